// Package sync is Reelay's player engine: one clock for every track, audio
// and video scheduling, buffering and stalls, play, pause, accurate seek and
// per-track subscribe. It never calls the window; it reports through events.
//
// Other packages import it as avsync.
package sync
