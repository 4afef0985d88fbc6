# branchctl as a tool: contexts of the config file (selection, precedence,
# use-context), refused private keys, the bash completion script (loads,
# completes commands, flags and unit paths from the daemon), branchctl shell
# on piped input, and the built-in help of the new commands.
# shellcheck shell=bash
. "$(dirname "$0")/lib.sh"

D=$BLTEST_DIR
export XDG_CONFIG_HOME=$D/config
mkdir -p "$XDG_CONFIG_HOME/branchline"
cp "$BLTEST_CERTS/ca.crt" "$BLTEST_CERTS/alice.crt" "$BLTEST_CERTS/alice.key" \
    "$BLTEST_CERTS/carol.crt" "$BLTEST_CERTS/carol.key" "$XDG_CONFIG_HOME/branchline/"
chmod 600 "$XDG_CONFIG_HOME/branchline/"*.key
cat >"$XDG_CONFIG_HOME/branchline/config" <<CONF
# contexts for the test
[context ops]
server = $BRANCHLINE_SERVER
ca = ca.crt
cert = carol.crt
key = carol.key
tenant = acme
[context acme]
server = $BRANCHLINE_SERVER
ca = ca.crt
cert = alice.crt
key = alice.key
[context down]
server = 127.0.0.1:1
ca = ca.crt
CONF
# From here on only the config file says where and who.
unset BRANCHLINE_SERVER BRANCHLINE_CA BRANCHLINE_CERT BRANCHLINE_KEY

case_ "contexts: --context, BRANCHLINE_CONTEXT, use-context"
ok --context ops tenant create acme --name "Acme" --admin-subject CN=alice
ok -o json --context ops whoami
eq "$(jqv .role)" "operator"
BRANCHLINE_CONTEXT=acme ok -o json whoami
eq "$(jqv .role)" "admin"
refused 2 "no context" whoami --context nope
ok config use-context acme
ok -o json whoami
eq "$(jqv .subject)" "CN=alice"
ok config current-context
eq "$OUT" "acme"
ok -o json config get-contexts
eq "$(jqv 'map(select(.current == "*")) | .[0].name')" "acme"
eq "$(jqv 'map(select(.name == "ops")) | .[0].tenant')" "acme"
ok -o csv config get-contexts
contains "$OUT" "current,name,server,ca,cert,key,tenant"

case_ "environment overrides the file, flags override both"
BRANCHLINE_SERVER=127.0.0.1:1 refused 3 UNAVAILABLE whoami
BRANCHLINE_SERVER=127.0.0.1:1 ok whoami --server "$(sed -n 's/^server = //p' "$XDG_CONFIG_HOME/branchline/config" | head -1)"
BRANCHLINE_CONTEXT=down refused 3 UNAVAILABLE whoami
ok --context ops whoami

case_ "a private key open to group or others is refused"
chmod 640 "$XDG_CONFIG_HOME/branchline/alice.key"
refused 2 "chmod 600" whoami
chmod 600 "$XDG_CONFIG_HOME/branchline/alice.key"
ok whoami

case_ "the bash completion script loads and completes"
ok unit add east --kind region --name East
ok unit add east/sh --kind city --name 上海
ok completion bash
printf '%s\n' "$OUT" >"$D/completion.bash"
out=$(BRANCHCTL="$BRANCHCTL" bash --norc -c '
    set -e
    source "$1"
    complete -p branchctl >/dev/null
    t() { COMP_WORDS=("$BRANCHCTL" "$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _branchctl; echo "${COMPREPLY[*]}"; }
    t un
    t unit a
    t unit add east/x --k
    t unit add east/x --kind ci
    t unit show ea
    t --output y
    t dept add east/sh c
' _ "$D/completion.bash" 2>&1) || fail "completion: $out"
eq "$out" "unit
add activate
--kind
city
east east/sh
yaml
customer_service"

case_ "the zsh completion script loads, registers and offers the same candidates"
ok completion zsh
printf '%s\n' "$OUT" >"$D/completion.zsh"
# zsh filters the candidates by the word typed itself (compadd), so outside
# a completion widget every candidate of the position is offered.
out=$(BRANCHCTL="$BRANCHCTL" zsh -f -c '
    source "$1"
    (( ${+_comps[branchctl]} )) || { echo "not registered"; exit 1; }
    setopt ksharrays
    t() { COMP_WORDS=("$BRANCHCTL" "$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _branchctl; echo "${COMPREPLY[*]}"; }
    t unit a
    t unit add east/x --kind ci
' _ "$D/completion.zsh" 2>&1) || fail "zsh completion: $out"
contains "$out" "add rename move close pause activate delete show tree list"
contains "$out" "group region product_line city branch"

case_ "branchctl shell runs the same commands, line by line"
printf '%s\n' 'unit show east' '-o json unit show "east/sh"' '# nothing' '' 'quit' 'unit show never' | \
    "$BRANCHCTL" shell >"$D/shell.out" 2>"$D/shell.err" || fail "shell: $(cat "$D/shell.err")"
contains "$(cat "$D/shell.out")" "region"
contains "$(cat "$D/shell.out")" '"path":"east/sh"'
rc=0
printf 'unit show nowhere\n' | "$BRANCHCTL" shell >/dev/null 2>&1 || rc=$?
eq "$rc" 5 "shell exits with the last command's code"

case_ "help lists the new commands with an example each"
ok help
for c in "export" "apply" "diff" "config get-contexts" "config use-context" "completion" "shell"; do
    contains "$OUT" "  $c "
done
ok apply --help
contains "$OUT" "--dry-run"
contains "$OUT" "Example:"

finish
