#!/usr/bin/env bash
# Imports a few hundred generated consultation leads into the demo tenant,
# shows where they went, then works them as branches would, so that the
# KPIs and the report have contacts, wins and losses: of every ten
# allocated leads, eight are contacted (three of them won, two lost), one
# is lost without a contact and one is left open. Expects BRANCHLINE_* for
# the tenant's admin.
# Usage: deploy/demo/leads.sh [COUNT]
set -euo pipefail
count=${1:-300}
csv=$(mktemp)
trap 'rm -f "$csv"' EXIT
channels=(search brand_zone forum social email referral website content)
projects=(seo seo ads ads ads brand)
origins=(/ east north south east/shanghai north/beijing south/shenzhen)
surnames=(王 李 张 刘 陈 杨 赵 黄 周 吴)
echo "external_id,project,channel,origin,name,phone,email,note" >"$csv"
for i in $(seq 1 "$count"); do
    printf 'demo-%05d,%s,%s,%s,%s先生,1%010d,,%s\n' "$i" \
        "${projects[i % ${#projects[@]}]}" "${channels[i % ${#channels[@]}]}" \
        "${origins[i % ${#origins[@]}]}" "${surnames[i % ${#surnames[@]}]}" \
        $((3800000000 + i * 7919)) "咨询 enquiry #$i" >>"$csv"
done
result=$(branchctl lead import "$csv" -o json)
jq -r 'group_by(.result) | map("\(.[0].result): \(length)") | join(", ")' <<<"$result"
# One branchctl shell for every transition: one process, one connection.
jq -r 'map(select(.status == "allocated")) | to_entries[]
       | (.key % 10) as $k | .value.lead_id as $id
       | if $k < 8 then "lead contact \($id)" else empty end,
         if $k < 3 then "lead win \($id)" elif $k < 5 or $k == 8 then "lead lose \($id)" else empty end' \
    <<<"$result" | branchctl shell >/dev/null
branchctl kpi --columns received,contacted,won,lost,open,unroutable,waiting
