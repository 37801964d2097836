package net

import (
	"encoding/json"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FuzzParseManifest: any reelay.json either is refused or names only
// visible files directly in the folder, under valid distinct track names
// with starts in range, and reads back the same once written out again.
// The seeds are the bodies of TestFolderManifest and
// TestFolderManifestErrors.
func FuzzParseManifest(f *testing.F) {
	for _, seed := range []string{
		`{"name":"Standup","tracks":[
		{"file":"scr.mp4","name":"screen"},{"file":"cam.mp4","name":"camera","start":1.5},{"file":"audio.m4a","name":"mic"}]}`,
		`{"tracks":[{"file":"../x.mp4"}]}`,
		`{"tracks":[{"file":".x.mp4"}]}`,
		`{"tracks":[{"file":"a.mp4","name":"a"},{"file":"b.mp4","name":"a"}]}`,
		`{"tracks":[{"file":"a.mp4","start":-1}]}`,
		`{`,
		`{"trakcs":[]}`,
		`{"tracks":[{"file":"gone.mp4"}]}`,
		`{"tracks":[{"file":"a.mp4","name":"a/b"}]}`,
		`{"tracks":[{"file":"sub"}]}`,
		`{"name":"x","tracks":[]}`,
		`{"tracks":[{"file":"a.mp4","start":86400.5}]}`,
		`{"tracks":[{"file":"a\\b.mp4"}]} `,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := parseManifest(raw)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for i, tr := range m.Tracks {
			if tr.File == "" || tr.File != filepath.Base(tr.File) || strings.HasPrefix(tr.File, ".") || strings.ContainsAny(tr.File, `/\`) {
				t.Fatalf("track %d: accepted file %q", i, tr.File)
			}
			if checkTrackName(tr.Name) != nil || seen[tr.Name] {
				t.Fatalf("track %d: accepted name %q", i, tr.Name)
			}
			seen[tr.Name] = true
			if math.IsNaN(tr.Start) || tr.Start < 0 || tr.Start > 24*3600 {
				t.Fatalf("track %d: accepted start %v", i, tr.Start)
			}
		}
		again, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := parseManifest(again)
		if err != nil || !reflect.DeepEqual(m, m2) {
			t.Fatalf("%s parsed to %+v, written out as %s, which reads back as %+v, %v", raw, m, again, m2, err)
		}
	})
}
