#!/usr/bin/env bash
# Builds the demo company with branchctl: 华东网销集团 (East Net Marketing
# Group), a multi-region company in the centralized shape the domain page
# recommends (promotion and customer service at the group, sales in every
# branch, a group support unit), with projects and a few people per
# department. Expects BRANCHLINE_* for the tenant's admin in the environment.
# Usage: deploy/demo/company.sh
set -euo pipefail
bctl() { branchctl "$@" >/dev/null; }

bctl dept add / promotion --name "网络推广中心 Online Promotion"
bctl dept add / customer_service --name "在线客服中心 Online Consultation"
bctl dept add / support --name "分公司支持部 Branch Support"

# region code, region name, then city:branch pairs "city/branch|city name|branch name"
add_region() {
    local region=$1 name=$2
    shift 2
    bctl unit add "$region" --kind region --name "$name"
    local spec city city_name branch branch_name
    for spec in "$@"; do
        IFS='|' read -r city city_name branch branch_name <<<"$spec"
        branchctl unit show "$region/$city" >/dev/null 2>&1 ||
            bctl unit add "$region/$city" --kind city --name "$city_name"
        bctl unit add "$region/$city/$branch" --kind branch --name "$branch_name"
        bctl dept add "$region/$city/$branch" sales --name "$branch_name 销售部"
    done
}
add_region east "华东大区 East" \
    "shanghai|上海 Shanghai|pudong|浦东分公司 Pudong" \
    "shanghai|上海 Shanghai|xuhui|徐汇分公司 Xuhui" \
    "hangzhou|杭州 Hangzhou|xihu|西湖分公司 Xihu"
add_region north "华北大区 North" \
    "beijing|北京 Beijing|chaoyang|朝阳分公司 Chaoyang" \
    "beijing|北京 Beijing|haidian|海淀分公司 Haidian" \
    "tianjin|天津 Tianjin|heping|和平分公司 Heping"
add_region south "华南大区 South" \
    "guangzhou|广州 Guangzhou|tianhe|天河分公司 Tianhe" \
    "shenzhen|深圳 Shenzhen|nanshan|南山分公司 Nanshan" \
    "shenzhen|深圳 Shenzhen|futian|福田分公司 Futian"

# Seed 000: a manager, up to three supervisors, copywriters and promoters;
# consultants by scale.
bctl position set / promotion manager --planned 1
bctl position set / promotion content_creator --planned 2
bctl position set / promotion promoter --planned 3
bctl position set / customer_service manager --planned 1
bctl position set / customer_service consultant --planned 6
staff() { branchctl -o json staff add "$1" --role "$2" --dept "$3" --function "$4" ${5:+--supervisor "$5"} | jq -r .id; }
promo_mgr=$(staff "陈静 Chen Jing" manager / promotion)
staff "刘洋 Liu Yang" content_creator / promotion "$promo_mgr" >/dev/null
staff "Emma Zhou" content_creator / promotion "$promo_mgr" >/dev/null
for p in "王磊 Wang Lei" "孙悦 Sun Yue" "David Li"; do staff "$p" promoter / promotion "$promo_mgr" >/dev/null; done
cs_mgr=$(staff "赵敏 Zhao Min" manager / customer_service)
for p in "周婷 Zhou Ting" "吴昊 Wu Hao" "郑爽 Zheng Shuang" "Grace Wang" "冯蕾 Feng Lei"; do
    staff "$p" consultant / customer_service "$cs_mgr" >/dev/null
done
n=0
for b in east/shanghai/pudong east/shanghai/xuhui east/hangzhou/xihu north/beijing/chaoyang \
    north/beijing/haidian north/tianjin/heping south/guangzhou/tianhe south/shenzhen/nanshan \
    south/shenzhen/futian; do
    n=$((n + 1))
    mgr=$(staff "销售经理 Sales Manager $n" manager "$b" sales)
    for k in $(seq 1 $((n % 3 + 2))); do staff "销售 Seller $n-$k" salesperson "$b" sales "$mgr" >/dev/null; done
done

# Projects (business lines) and which branches handle them.
bctl project add seo --name "SEO 搜索优化"
bctl project add ads --name "竞价推广 Paid Search"
bctl project add brand --name "品牌专区 Brand Zone"
for b in east/shanghai/pudong east/shanghai/xuhui north/beijing/chaoyang north/beijing/haidian \
    south/guangzhou/tianhe south/shenzhen/nanshan; do
    bctl project assign "$b" seo
    bctl project assign "$b" ads
done
for b in east/hangzhou/xihu north/tianjin/heping south/shenzhen/futian east/shanghai/pudong; do
    bctl project assign "$b" brand
done
bctl support assign east/hangzhou/xihu --reason "新开分公司 new branch: training"
