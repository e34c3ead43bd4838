#!/usr/bin/env python3
"""Random playlist commands against zc-player, to find where GStreamer stalls.

Not part of the test suite: a tool for hunting rare stalls, run by hand in
the VM on the host's Debian 12 root (the only root with python3):

    cargo build -p zc-app --bins
    cargo xtask vm -- python3 tests/stress/player_commands.py target/debug/zc-player 400 3

It plays three one-second clips with --keep-open and sends COUNT random
commands (playlist-next, playlist-prev, load, load append, seek, or none),
each followed by a random pause under 0.8 s and a stats request, printing
one line per command. A request unanswered for REPLY_WAIT seconds
(default 45) is a stall: it prints every thread's stack (gdb) and the
player's log, and exits 1. At the end it prints what the player said about
stalls it recovered from (a seek started again, a pipeline left behind).

With it (seed 2, GStreamer 1.22) the player was found waiting for good on
flushing seeks whose ASYNC_DONE never came; seed 3 over 400 commands then
showed the seek watch recovering twice.
"""

import json
import os
import random
import shlex
import socket
import subprocess
import sys
import time

WORK = "/tmp/zc-stress"
CLIP = (
    "videotestsrc num-buffers=30 pattern={pattern} "
    "! video/x-raw,format=I420,width=320,height=240,framerate=30/1 "
    "! x264enc speed-preset=ultrafast key-int-max=30 ! h264parse ! matroskamux "
    "! filesink location={path}"
)


def main():
    if len(sys.argv) < 3:
        sys.exit(f"usage: {sys.argv[0]} PLAYER COUNT [SEED]")
    player, count = sys.argv[1], int(sys.argv[2])
    random.seed(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
    os.makedirs(WORK, exist_ok=True)
    clips = []
    for name, pattern in [("one", "smpte"), ("two", "ball"), ("three", "snow")]:
        path = f"{WORK}/{name}.mkv"
        if not os.path.exists(path):
            pipeline = CLIP.format(pattern=pattern, path=path)
            subprocess.run(["gst-launch-1.0", "-q"] + shlex.split(pipeline), check=True)
        clips.append(path)

    ipc = f"{WORK}/ipc"
    log_path = f"{WORK}/player.log"
    log = open(log_path, "w")
    child = subprocess.Popen(
        [player, "--headless", "--ipc", ipc, "--keep-open"] + clips,
        stdout=log,
        stderr=log,
    )
    conn = None
    for _ in range(300):
        try:
            conn = socket.socket(socket.AF_UNIX)
            conn.connect(ipc)
            break
        except OSError:
            conn = None
            time.sleep(0.1)
    if conn is None:
        child.kill()
        sys.exit("the control socket never appeared")
    conn.settimeout(float(os.environ.get("REPLY_WAIT", "45")))
    stream = conn.makefile("rw")

    def stalled(request):
        print("NO REPLY to", request, "; player exit status:", child.poll(), flush=True)
        if child.poll() is None:
            stacks = subprocess.run(
                ["gdb", "-p", str(child.pid), "-batch", "-ex", "thread apply all bt"],
                capture_output=True,
                text=True,
            )
            print(stacks.stdout[-60000:], flush=True)
            child.kill()
        log.close()
        print(open(log_path).read()[-6000:])
        sys.exit(1)

    def request(command):
        try:
            stream.write(json.dumps(command) + "\n")
            stream.flush()
            line = stream.readline()
        except (socket.timeout, BrokenPipeError, ConnectionResetError):
            line = None
        if not line:
            stalled(command)
        return json.loads(line)

    commands = {
        "next": lambda: {"command": "playlist-next"},
        "prev": lambda: {"command": "playlist-prev"},
        "load": lambda: {"command": "load", "uri": random.choice(clips)},
        "append": lambda: {"command": "load", "uri": random.choice(clips), "mode": "append"},
        "seek": lambda: {"command": "seek", "seconds": random.random()},
        "wait": lambda: None,
    }
    started = time.time()
    for i in range(count):
        name = random.choice(list(commands))
        command = commands[name]()
        reply = request(command) if command else None
        time.sleep(random.random() * 0.8)
        stats = request({"command": "stats"})
        print(
            i,
            name,
            reply,
            stats.get("playlist-pos"),
            stats.get("state"),
            stats.get("position-s"),
            f"{time.time() - started:.0f} s",
            flush=True,
        )
    request({"command": "quit"})
    print("player exit status:", child.wait(), flush=True)
    log.close()
    for line in open(log_path):
        if "no answer" in line or "left behind" in line or "leaving its pipeline" in line:
            print("player:", line.rstrip())


if __name__ == "__main__":
    main()
