/* Names of status codes, shared by the daemon's logs and the client's errors. */
#ifndef BRANCHLINE_STATUS_H
#define BRANCHLINE_STATUS_H

#include "branchline.pb-c.h"

typedef Branchline__V1__Status__Code status_code_t;

#define BL_PROTOCOL_VERSION 1u
#define BL_ALPN "branchline/1"

/* "INVALID_ARGUMENT" for 3; "UNKNOWN" for codes the protocol does not define. */
const char *status_code_name(int code);

/* Code for a name such as "NOT_FOUND"; -1 when there is none. */
int status_code_from_name(const char *name);

#endif
