#!/bin/sh
# Drive zc-player through its control socket: play a clip on a headless
# Weston of the player's own, open the statistics panel, seek, pause, take
# a screenshot of the window and a full-size snapshot of the frame, quit.
#
#   cargo build --release -p zc-app
#   examples/player-ipc.sh clip.mkv [OUT_DIR]
#
# The dma-buf path needs a kernel that can make dma-bufs (see README:
# `cargo xtask vm -- examples/player-ipc.sh clip.mkv target/demo` runs it in the VM).
set -e
clip=${1:?usage: $0 CLIP [OUT_DIR]}
out=${2:-.}
bin=${ZC_BIN:-$(dirname "$0")/../target/release}
sock=$(mktemp -u /tmp/zc-player-XXXXXX.sock)
mkdir -p "$out"

"$bin/zc-player" "$clip" --headless --loop --ipc "$sock" &
player=$!
ctl() { "$bin/zc-playerctl" "$sock" "$@"; }

"$bin/zc-playerctl" --wait 60 "$sock" '{"command":"position"}'
until ctl '{"command":"stats"}' | grep -q '"frames-rendered":[1-9]'; do sleep 0.5; done
ctl '{"command":"key","key":"i"}'                       # the statistics panel
ctl '{"command":"seek","seconds":2}'                    # answers with the position reached
ctl '{"command":"seek","seconds":-1,"relative":true}'
ctl '{"command":"pause"}'
ctl '{"command":"stats"}'
ctl '{"command":"screenshot","path":"'"$out"'/window.png"}'
ctl '{"command":"snapshot","path":"'"$out"'/frame.png"}'
ctl '{"command":"quit"}'                                # reports fds left open (0)
wait $player
