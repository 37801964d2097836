package net

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"reelay/net/track"
)

// ManifestName is the optional file in a recording folder that names the
// recording and its tracks, orders them and sets their start offsets.
const ManifestName = "reelay.json"

// mediaExts are the file extensions a folder scan turns into tracks. A
// manifest may still list any regular file; the viewer then reports it as
// not media if it is not.
var mediaExts = []string{
	".mp4", ".m4v", ".m4a", ".mov", ".mkv", ".mka", ".webm",
	".ogg", ".oga", ".opus", ".mp3", ".wav", ".flac", ".aac", ".ts",
}

// subtitleExts are the subtitle files a folder scan turns into tracks,
// after the media files: a folder of subtitles alone is no recording.
var subtitleExts = []string{".srt", ".vtt", ".ass", ".ssa"}

// TrackInfo describes one track of a recording (see track.Info).
type TrackInfo = track.Info

// Folder is a recording read from a local folder: what a sharer serves and
// what a viewer plays without a network.
type Folder struct {
	name   string
	tracks []folderTrack
}

type folderTrack struct {
	TrackInfo
	// path is the file behind the track; it never leaves this process.
	path string
}

// manifest is the schema of reelay.json.
type manifest struct {
	Name   string          `json:"name"`
	Tracks []manifestTrack `json:"tracks"`
}

type manifestTrack struct {
	File  string  `json:"file"`
	Name  string  `json:"name"`
	Start float64 `json:"start"`
}

// OpenFolder scans dir. Every regular media file becomes a track named by
// its stem (camera.mp4 → camera) unless reelay.json says otherwise. Hidden
// files, subfolders and symlinks leading out of the folder are never tracks.
func OpenFolder(dir string) (*Folder, error) {
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, fmt.Errorf("net: opening recording folder failed: %w", err)
	}
	if fi, err := os.Stat(root); err != nil {
		return nil, fmt.Errorf("net: opening recording folder failed: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("net: %s is not a folder", dir)
	}
	f := &Folder{name: filepath.Base(root)}
	m, err := readManifest(root)
	if err != nil {
		return nil, err
	}
	if m != nil {
		err = f.addManifestTracks(root, m)
	} else {
		err = f.addScannedTracks(root)
	}
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(f.tracks, func(t folderTrack) bool { return !isSubtitleFile(t.path) }) {
		// Read when playing a folder as well as when sharing one.
		return nil, fmt.Errorf("net: %s holds no audio or video files", dir)
	}
	return f, nil
}

func readManifest(root string) (*manifest, error) {
	raw, err := os.ReadFile(filepath.Join(root, ManifestName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("net: reading %s failed: %w", ManifestName, err)
	}
	m, err := parseManifest(raw)
	if err != nil {
		return nil, fmt.Errorf("net: %s: %w", ManifestName, err)
	}
	return m, nil
}

// parseManifest checks everything that does not need the disk.
func parseManifest(raw []byte) (*manifest, error) {
	var m manifest
	if err := decodeStrict(raw, &m); err != nil {
		return nil, fmt.Errorf("not valid JSON for a manifest: %w", err)
	}
	seen := map[string]bool{}
	for i, t := range m.Tracks {
		if t.File == "" || t.File != filepath.Base(t.File) || strings.HasPrefix(t.File, ".") || strings.ContainsAny(t.File, `/\`) {
			return nil, fmt.Errorf("track %d: file %q must be a visible file directly in the folder", i, t.File)
		}
		if t.Name == "" {
			m.Tracks[i].Name = stem(t.File)
		}
		if err := checkTrackName(m.Tracks[i].Name); err != nil {
			return nil, fmt.Errorf("track %d: %w", i, err)
		}
		if seen[m.Tracks[i].Name] {
			return nil, fmt.Errorf("track %d: name %q used twice", i, m.Tracks[i].Name)
		}
		seen[m.Tracks[i].Name] = true
		if t.Start < 0 || math.IsNaN(t.Start) || t.Start > 24*3600 {
			return nil, fmt.Errorf("track %d: start %v s outside 0..86400", i, t.Start)
		}
	}
	return &m, nil
}

func (f *Folder) addManifestTracks(root string, m *manifest) error {
	if m.Name != "" {
		f.name = m.Name
	}
	if len(m.Tracks) == 0 {
		return f.addScannedTracks(root)
	}
	for _, t := range m.Tracks {
		tr, err := statTrack(root, t.File)
		if err != nil {
			return fmt.Errorf("net: %s: track %q: %w", ManifestName, t.Name, err)
		}
		tr.Name = t.Name
		tr.Start = time.Duration(t.Start * float64(time.Second))
		f.tracks = append(f.tracks, tr)
	}
	return nil
}

func (f *Folder) addScannedTracks(root string) error {
	entries, err := os.ReadDir(root)
	if err != nil {
		return fmt.Errorf("net: listing recording folder failed: %w", err)
	}
	// Media first, so that screen.mp4 is "screen" and screen.srt beside
	// it "screen (subtitles)".
	for _, exts := range [][]string{mediaExts, subtitleExts} {
		for _, e := range entries {
			name := e.Name()
			if strings.HasPrefix(name, ".") || !slices.Contains(exts, strings.ToLower(filepath.Ext(name))) {
				continue
			}
			tr, err := statTrack(root, name)
			if err != nil {
				continue // subfolders, sockets, links out of the folder: not tracks
			}
			tr.Name = stem(name)
			if f.track(tr.Name) != nil && isSubtitleFile(name) {
				tr.Name += " (subtitles)"
			}
			if checkTrackName(tr.Name) != nil || f.track(tr.Name) != nil {
				continue
			}
			f.tracks = append(f.tracks, tr)
		}
	}
	return nil
}

// isSubtitleFile says a file is named as subtitles.
func isSubtitleFile(name string) bool {
	return slices.Contains(subtitleExts, strings.ToLower(filepath.Ext(name)))
}

// statTrack resolves file inside root, refusing anything that is not a
// regular file or whose real path lies outside root.
func statTrack(root, file string) (folderTrack, error) {
	real, err := filepath.EvalSymlinks(filepath.Join(root, file))
	if err != nil {
		return folderTrack{}, err
	}
	if rel, err := filepath.Rel(root, real); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return folderTrack{}, errors.New("leads out of the folder")
	}
	fi, err := os.Stat(real)
	if err != nil {
		return folderTrack{}, err
	}
	if !fi.Mode().IsRegular() {
		return folderTrack{}, errors.New("not a regular file")
	}
	return folderTrack{
		TrackInfo: TrackInfo{Size: fi.Size(), Version: fileVersion(fi)},
		path:      real,
	}, nil
}

func fileVersion(fi fs.FileInfo) string {
	return fmt.Sprintf("%x-%x", fi.Size(), fi.ModTime().UnixNano())
}

func stem(file string) string { return strings.TrimSuffix(file, filepath.Ext(file)) }

func checkTrackName(name string) error {
	if name == "" || len(name) > 64 || strings.ContainsAny(name, "/\\\x00") || strings.HasPrefix(name, ".") {
		return fmt.Errorf("track name %q: want 1..64 characters, no slashes, not starting with a dot", name)
	}
	return nil
}

// Name is the recording's display name.
func (f *Folder) Name() string { return f.name }

// Tracks lists the tracks in order.
func (f *Folder) Tracks() []TrackInfo {
	out := make([]TrackInfo, len(f.tracks))
	for i, t := range f.tracks {
		out[i] = t.TrackInfo
	}
	return out
}

func (f *Folder) track(name string) *folderTrack {
	for i := range f.tracks {
		if f.tracks[i].Name == name {
			return &f.tracks[i]
		}
	}
	return nil
}

// OpenTrack opens a track's file for reading.
func (f *Folder) OpenTrack(name string) (*os.File, error) {
	t := f.track(name)
	if t == nil {
		return nil, fmt.Errorf("net: no track %q in %q", name, f.name)
	}
	return os.Open(t.path)
}
