# testlib.sh: shell helpers shared by the shell tests; source it with
#   . "${XENMIG_SRCDIR:-$(dirname "$0")/../..}/tests/testlib.sh"

# await WHAT CONDITION: until the shell CONDITION holds (an event: a line
# in a file, a process's state, a connection); after 60 s, the bound of
# last resort, it gives up, says on stderr what it waited for, returns 1.
await() {
    await_deadline=$(($(date +%s) + 60))
    until eval "$2"; do
        if [ "$(date +%s)" -ge "$await_deadline" ]; then
            echo "# gave up after 60 s waiting for $1" >&2
            return 1
        fi
        sleep 0.05
    done
}
