package locale

import "testing"

func TestSetLanguage(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"LANG": "C.UTF-8"}, "en"},
		{map[string]string{"LANG": "POSIX.utf8"}, "en"},
		{map[string]string{"LC_ALL": "C.UTF-8", "LANG": "fr_FR.UTF-8"}, "en"},
		{map[string]string{"LC_MESSAGES": "C@euro"}, "en"},
		// Plain C and POSIX Fyne reads as no locale at all; others it parses.
		{map[string]string{"LANG": "C"}, ""},
		{map[string]string{"LANG": "fr_FR.UTF-8"}, ""},
		{map[string]string{"LC_ALL": "de_DE.UTF-8", "LANG": "C.UTF-8"}, ""},
		{map[string]string{"LANG": "C.UTF-8", "LANGUAGE": "fr"}, "fr"},
		{map[string]string{}, ""},
	} {
		env := map[string]string{}
		for k, v := range tc.env {
			env[k] = v
		}
		setLanguage(func(k string) string { return env[k] }, func(k, v string) error { env[k] = v; return nil })
		if env["LANGUAGE"] != tc.want {
			t.Errorf("%v: LANGUAGE %q, want %q", tc.env, env["LANGUAGE"], tc.want)
		}
	}
}
