#!/usr/bin/env bash
# Takes the README's screenshots from the real app under Xvfb, at
# 1280×720 and 1920×1080, into docs/: Home as a first-time user sees it,
# the player on the built-in demo with the seek bar's picture under the
# pointer, and the Share view with a viewer watching. Needs Xvfb,
# xdotool and ImageMagick's import (make deps-test installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
out=$PWD/docs
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
go build -tags 'migrated_fynedo no_emoji' -o "$work/reelay" .
reelay=$work/reelay

# A recording folder to share: the demo under a name a friend would give it.
mkdir -p "$work/standup"
cp assets/demo/*.mp4 assets/demo/*.m4a "$work/standup/"
cat > "$work/standup/reelay.json" <<'JSON'
{"name": "Standup, Tuesday", "tracks": [
  {"file": "screen.mp4", "name": "screen"},
  {"file": "camera.mp4", "name": "camera"},
  {"file": "mic.m4a", "name": "mic"}]}
JSON

n=90
for size in 1280x720 1920x1080; do
  n=$((n + 1))
  Xvfb ":$n" -screen 0 "${size}x24" -nolisten tcp >/dev/null 2>&1 &
  pids+=($!)
  export DISPLAY=":$n"
  sleep 1
  home="$work/home-$size"
  mkdir -p "$home"
  # Always run in the background: exec makes $! the app itself, so kill
  # stops it (a function's subshell would die and leave it running).
  run() { HOME=$home XDG_CONFIG_HOME=$home/config REELAY_NO_DHT=1 REELAY_UI_DEBUG=1 exec "$reelay" "$@"; }

  # Home, the first time.
  run >"$work/home.log" 2>&1 &
  app=$!
  sleep 3
  import -window root "$out/home-$size.png"

  # Share: the folder's path typed into Home's folder box, then Share. A
  # `reelay share` of another folder runs with the same identity, so the
  # window's share goes through it (one identity, one process), and a
  # viewer without a window watches.
  run share "$work/standup" >"$work/link" 2>"$work/share.log" &
  pids+=($!)
  for _ in $(seq 50); do [ -s "$work/link" ] && break; sleep 0.1; done
  xdotool key Tab Tab
  xdotool type --delay 5 "$work/standup"
  xdotool key Tab Tab Tab space
  run play "$(head -1 "$work/link")" --headless --for 20s >/dev/null 2>&1 &
  pids+=($!)
  sleep 5
  import -window root "$out/share-$size.png"
  kill "$app"
  wait "$app" 2>/dev/null || true

  # The player on the demo, the pointer over the seek bar.
  run demo >"$work/demo.log" 2>&1 &
  app=$!
  sleep 5
  bar=$(grep -ao '"seekbar":\[[0-9,]*\]' "$work/demo.log" | tail -1 | grep -ao '[0-9][0-9,]*')
  IFS=, read -r x y w h <<<"$bar"
  # Hover until the tooltip holds its picture (taller than the time alone).
  for _ in $(seq 20); do
    xdotool mousemove $((x + w * 3 / 5)) $((y + h / 2))
    sleep 0.2
    xdotool mousemove $((x + w * 3 / 5 + 2)) $((y + h / 2))
    sleep 0.3
    tip=$(grep -ao '"tip":\[[0-9,]*\]' "$work/demo.log" | tail -1 | grep -ao '[0-9][0-9,]*' || true)
    [ -n "$tip" ] && [ "$(cut -d, -f4 <<<"$tip")" -gt 40 ] && break
  done
  sleep 0.5
  import -window root "$out/player-$size.png"
  kill "$app"
  wait "$app" 2>/dev/null || true
done
ls -l "$out"/*.png
