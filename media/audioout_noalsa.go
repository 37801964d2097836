//go:build !linux || android

package media

// quietALSA does nothing where oto does not use ALSA.
func quietALSA() {}
