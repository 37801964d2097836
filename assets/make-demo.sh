#!/usr/bin/env bash
# Regenerates the built-in demo recording in assets/demo/ from FFmpeg's
# lavfi sources: a camera, a screen and a microphone, 60 s each, and
# subtitles that tell a first-time viewer what to try. The picture
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

cat > subtitles.srt <<'SRT'
1
00:00:00,500 --> 00:00:04,000
This is Reelay's demo: a screen, a camera and a microphone.

2
00:00:04,500 --> 00:00:08,500
The picture flashes and the sound beeps on every whole second.

3
00:00:09,000 --> 00:00:13,000
Flash and beep together: sound and picture are in sync.

4
00:00:14,000 --> 00:00:18,000
Switch the camera or the screen off and on with the buttons below.

5
00:00:19,000 --> 00:00:23,000
<i>Left</i> and <i>Right</i> seek 5 seconds; <i>.</i> and <i>,</i> step one picture.

6
00:00:24,000 --> 00:00:28,000
<i>[</i> and <i>]</i> change the speed, and the pitch stays.

7
00:00:29,000 --> 00:00:33,000
Press <i>i</i> for statistics, <i>s</i> for a screenshot.

8
00:00:34,000 --> 00:00:38,000
Press <i>v</i> to hide these subtitles.

9
00:00:40,000 --> 00:00:44,000
To share a recording of your own, choose its folder on Home.

10
00:00:54,000 --> 00:00:58,000
That is the end of the demo. Thanks for watching!
SRT

cat > reelay.json <<JSON
{
  "name": "Demo recording",
  "tracks": [
    {"file": "screen.mp4", "name": "screen"},
    {"file": "camera.mp4", "name": "camera"},
    {"file": "mic.m4a", "name": "mic"},
    {"file": "subtitles.srt", "name": "subtitles"}
  ]
}
JSON
ls -l
