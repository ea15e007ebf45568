# Sourced by benches/compare-*.sh: parses [ROUNDS] [SECS] [--markdown].
# Set rounds and secs to the defaults before sourcing; sets markdown=0|1.
#
#   rounds=3 secs=5; . "$(dirname "$0")/args.sh" "$@"
markdown=0
_n=0
for _a in "$@"; do
  case "$_a" in
    --markdown) markdown=1 ;;
    ''|*[!0-9]*) echo "usage: $0 [ROUNDS] [SECS] [--markdown]" >&2; exit 2 ;;
    *) if [ $_n = 0 ]; then rounds=$_a; else secs=$_a; fi; _n=$((_n + 1)) ;;
  esac
done
unset _a _n
