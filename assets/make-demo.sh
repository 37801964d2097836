#!/usr/bin/env bash
# Regenerates the built-in demo recording in assets/demo/ from FFmpeg's
# lavfi sources: a camera, a screen and a microphone, 60 s each. The picture
# flashes white and the microphone beeps on every whole second, so
# audio/video sync can be judged by eye and ear. The video is encoded as
# recorders usually encode (x264 at its default preset, a few reference
# frames), not for the smallest file: a decoder keeps every reference frame.
# Keyframes fall half a second after a flash (0.5 s, then every 2 s), not on
# it, and scene cuts add none: a picture made of keyframes only (the seek
# bar's, or a track thinned on a slow link) shows the picture, not a flash.
set -euo pipefail
cd "$(dirname "$0")/demo"
dur=60
flash="drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:enable='lt(mod(t\,1)\,0.07)'"
keys=(-force_key_frames "expr:if(eq(n,0),1,gte(t,2*n_forced-1.5))" -x264-params scenecut=0)

ffmpeg -hide_banner -loglevel error -y \
  -f lavfi -i "testsrc2=size=640x360:rate=30:duration=$dur" \
  -vf "hue=h=40*t,${flash}" \
  -c:v libx264 -preset medium -profile:v high -pix_fmt yuv420p -g 60 "${keys[@]}" -b:v 420k \
  -movflags +faststart camera.mp4

ffmpeg -hide_banner -loglevel error -y \
  -f lavfi -i "testsrc=size=1280x720:rate=15:duration=$dur" \
  -vf "$flash" \
  -c:v libx264 -preset medium -tune stillimage -pix_fmt yuv420p -g 30 "${keys[@]}" -b:v 250k \
  -movflags +faststart screen.mp4

ffmpeg -hide_banner -loglevel error -y \
  -f lavfi -i "aevalsrc=0.4*sin(2*PI*1000*t)*lt(mod(t\,1)\,0.07)+0.05*sin(2*PI*220*t):s=48000:c=stereo:d=$dur" \
  -c:a aac -b:a 64k -movflags +faststart mic.m4a

cat > reelay.json <<JSON
{
  "name": "Demo recording",
  "tracks": [
    {"file": "screen.mp4", "name": "screen"},
    {"file": "camera.mp4", "name": "camera"},
    {"file": "mic.m4a", "name": "mic"}
  ]
}
JSON
ls -l
