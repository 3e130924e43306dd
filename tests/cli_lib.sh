# Shared by the CLI test scripts (sourced after GL is set): a scratch
# directory to work in, OK/NOT OK counters, and expect_error for commands
# that must fail with one line on stderr, exit code 2, and no `out` written.
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T"
fails=0
passes=0
ok() { echo "OK      $*"; passes=$((passes + 1)); }
notok() { echo "NOT OK  $*"; fails=$((fails + 1)); }

# expect_error "description" "stderr substring" args...  (out dir must not appear)
expect_error() {
  local what=$1 want=$2; shift 2
  rm -rf out
  "$GL" "$@" >stdout.txt 2>stderr.txt
  local rc=$?
  local lines; lines=$(wc -l <stderr.txt)
  if [ $rc -eq 2 ] && grep -qF -- "$want" stderr.txt && [ "$lines" -eq 1 ] && [ ! -e out ]; then
    ok "$what: exit 2, one line: $(cat stderr.txt)"
  else
    notok "$what: rc=$rc lines=$lines stderr=[$(cat stderr.txt)] out exists: $([ -e out ] && echo yes || echo no)"
  fi
}
