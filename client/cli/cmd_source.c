/*
 * Channel sources of web intake: where website forms and ad-platform
 * webhooks send leads (POST /v1/intake/{token} on branchd's public HTTPS
 * listener). Rows of the generic cmd_org, as in cmd_org.c; the daemon
 * validates and names the field it refuses.
 */
#include "org_call.h"

#define CHANNELS "search, brand_zone, forum, social, email, referral, website, content or other"

static const char ADD_DETAILS[] =
    "The answer shows the source's token (and with --hmac its signing secret)\n"
    "this once: only the token's hash is stored. Forms post to\n"
    "https://HOST:PORT/v1/intake/TOKEN (see the README, \"Web intake\").\n"
    "\n"
    "--map FORM_FIELD=LEAD_FIELD (repeatable) takes a form field into a lead\n"
    "field: name, phone, email, note, project or external_id. Form fields named\n"
    "like a lead field need no mapping; any other field goes into the note as\n"
    "'field: value', except fields starting with '_'.\n";

const command_t SOURCE_COMMANDS[] = {
    {
        .words = {"source", "add"}, .run = cmd_org, .op = "source_add",
        .summary = "Add a channel source for web forms and webhooks; prints its token once",
        .params = {
            ARG("NAME", "name", "a lower-case slug, unique in the tenant"),
            FLAG_REQ("--channel", "C", "channel", CHANNELS),
            FLAG("--project", "P", "project", "the project of its leads unless the form "
                 "names one"),
            FLAG("--origin", "PATH", "origin", "the origin unit of its leads (default: your "
                 "scope)"),
            FLAG_MANY("--return-url", "URL", "return_urls", "a page a form post may be sent "
                      "back to (303); repeatable, the first is the default"),
            FLAG_MANY("--cors-origin", "O", "cors_origins", "a browser origin allowed to post "
                      "JSON (https://www.example.com); repeatable"),
            FLAG_MANY("--map", "F=L", "map", "form field F fills lead field L; repeatable"),
            {"--hmac", NULL, NULL, "hmac=true", PARAM_SWITCH,
             "accept only requests signed with the secret shown (webhooks)"},
        },
        .example = "branchctl source add site-form --channel website --project seo "
                   "--return-url https://www.example.com/thanks --map tel=phone",
        .columns = "name,channel,project,origin_path,token,hmac_secret",
        .details = ADD_DETAILS,
    },
    {
        .words = {"source", "list"}, .run = cmd_org, .op = "source_list",
        .summary = "List the channel sources in your scope (tokens are never shown again)",
        .example = "branchctl source list -o json",
        .columns = "name,channel,project,origin_path,hmac,enabled,old_token_until",
    },
    {
        .words = {"source", "rotate"}, .run = cmd_org, .op = "source_rotate",
        .summary = "Give a source a new token; the old one works for a grace period",
        .params = {
            ARG("NAME", "name", "the source"),
            FLAG("--grace-minutes", "N", "grace_minutes", "how long the old token keeps "
                 "working (default 60; 0: it stops now)"),
        },
        .example = "branchctl source rotate site-form --grace-minutes 1440",
        .columns = "name,token,old_token_until",
    },
    {
        .words = {"source", "disable"}, .run = cmd_org, .op = "source_disable",
        .summary = "Refuse every further submission to a source (401)",
        .params = {ARG("NAME", "name", "the source")},
        .example = "branchctl source disable site-form",
        .columns = "name,enabled",
    },
    {{NULL}},
};
