#!/usr/bin/env bash
# Compare ways of showing the same decoded H.264 clip on Weston, in one run:
#   zc       avdec_h264 ! zcexport ! zcwaylandsink      (dma-buf, zc's sink)
#   zc-sink  avdec_h264 ! zcwaylandsink                 (the sink's own pool)
#   stock    avdec_h264 ! zcexport ! waylandsink        (zc's dma-bufs, GStreamer's sink)
#   direct   avdec_h264 ! waylandsink                   (GStreamer alone; on 1.28 its
#                                                        udmabuf pool: zero-copy too)
#   convert  avdec_h264 ! videoconvert ! waylandsink    (GStreamer's usual wl_shm path)
#   floor    avdec_h264 ! fakesink                       (decoding alone)
# Each with sync=false: frames per second, CPU time (user+sys) per frame of
# the gst-launch process, zc's copy counters where zc elements are in it, and
# from a second run with WAYLAND_DEBUG=client what reached the compositor:
# wl_buffers made through linux-dmabuf and through wl_shm, and commits.
#
# Needs dma-bufs, so run it in the VM with the release plugin:
#   cargo build --release -p gst-plugin-zerocopy
#   cargo xtask vm -- examples/compare-sinks.sh [WIDTHxHEIGHT] [FRAMES]
# Under software emulation absolute numbers are meaningless; compare rows.
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-1280x720}
frames=${2:-300}
width=${size%x*}
height=${size#*x}
export GST_PLUGIN_PATH=${GST_PLUGIN_PATH:-$PWD/target/release}
work=$(mktemp -d /tmp/zc-compare.XXXXXX)
chmod 700 "$work"
export XDG_RUNTIME_DIR=$work
# Weston's GL renderer crashes drawing dma-bufs on vgem (ENVIRONMENT.md); the
# desktop shell, since headless kiosk-shell (Weston 14) crashes on the second window.
if [ -e /sys/module/vgem ]; then modprobe -r vgem; fi

weston --backend=headless --renderer=gl --shell=desktop --idle-time=0 --socket=compare \
  --width="$width" --height="$height" --log="$work/weston.log" &
weston_pid=$!
trap 'kill $weston_pid 2>/dev/null; wait $weston_pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 600); do [ -S "$work/compare" ] && break; sleep 0.1; done
[ -S "$work/compare" ] || { echo "weston did not start:"; cat "$work/weston.log"; exit 1; }

clip=$work/clip.mp4
gst-launch-1.0 -q videotestsrc num-buffers="$frames" pattern=ball \
  ! "video/x-raw,format=I420,width=$width,height=$height,framerate=30/1" \
  ! x264enc speed-preset=veryfast key-int-max=30 ! h264parse ! mp4mux ! filesink location="$clip"

decode="filesrc location=$clip ! qtdemux ! h264parse ! avdec_h264"
declare -A tails=(
  [zc]="zcexport ! zcwaylandsink display=compare sync=false"
  [zc-sink]="zcwaylandsink display=compare sync=false"
  [stock]="zcexport ! waylandsink display=compare sync=false"
  [direct]="waylandsink display=compare sync=false"
  [convert]="videoconvert ! waylandsink display=compare sync=false"
  [floor]="fakesink sync=false"
)
echo "GStreamer $(gst-launch-1.0 --gst-version | awk '{print $NF}'), $(weston --version), ${width}x${height}, $frames frames"
printf '%-8s %8s %14s %16s %14s %12s %8s  %s\n' path fps "cpu us/frame" "copied B/frame" \
  "dmabuf wl_buf" "shm wl_buf" commits "zc counters"
for path in floor zc zc-sink stock direct convert; do
  log=$work/$path.log
  TIMEFORMAT="%R %U %S"
  # shellcheck disable=SC2086 # the descriptions are meant to split into words
  if ! { time gst-launch-1.0 -m $decode ! ${tails[$path]} >"$log" 2>&1; } 2>"$work/time"; then
    echo "$path failed:"; tail -5 "$log"; continue
  fi
  read -r wall user sys <"$work/time"
  # No match is fine (stock paths have no zc counters).
  copied=$({ grep -o 'bytes-copied=(guint64)[0-9]*' "$log" || true; } | awk -F')' '{s += $2} END {print s + 0}')
  counters=$({ grep -o 'zc-[a-z]*-stats, [^;]*' "$log" || true; } | sed 's/(guint64)//g; s/(string)//g' | tr '\n' ' ')
  # The protocol, from a second run (logging every request costs CPU).
  # shellcheck disable=SC2086
  WAYLAND_DEBUG=client gst-launch-1.0 $decode ! ${tails[$path]} >"$work/$path.wl" 2>&1 || true
  dmabuf=$(grep -cE 'zwp_linux_buffer_params_v1[@#][0-9]+\.create(_immed)?\(' "$work/$path.wl" || true)
  shm=$(grep -cE 'wl_shm_pool[@#][0-9]+\.create_buffer\(' "$work/$path.wl" || true)
  commits=$(grep -cE ' -> wl_surface[@#][0-9]+\.commit\(' "$work/$path.wl" || true)
  awk -v p="$path" -v n="$frames" -v w="$wall" -v u="$user" -v s="$sys" -v c="$copied" -v z="$counters" \
    -v d="$dmabuf" -v m="$shm" -v k="$commits" \
    'BEGIN { printf "%-8s %8.1f %14.0f %16.0f %14d %12d %8d  %s\n", p, n / w, (u + s) * 1e6 / n, c / n, d, m, k, z }'
done
