// Package locale keeps Fyne quiet under the C locale. LANG=C.UTF-8 (the
// default of many containers and minimal systems) reaches Fyne's language
// lookup as the tag "C", which it cannot parse, and Fyne logs three lines
// of "Error parsing user locale C" from its lang package's init, before
// main runs. The C locale means untranslated messages, which for Fyne is
// English, so this package says so in LANGUAGE, the variable gettext and
// Fyne read first when the locale is not plain C or POSIX.
//
// It must run before fyne.io/fyne/v2/lang's init, so it imports nothing
// but os: Go initializes packages in import-path order whenever their own
// imports are done, and Fyne's lang waits for text/template, which sorts
// after this package and itself waits for os.
package locale

import (
	"os"
	"strings"
)

func init() { setLanguage(os.Getenv, os.Setenv) }

// setLanguage sets LANGUAGE to "en" when the locale in force (LC_ALL,
// LC_MESSAGES or LANG, the first one set) is the C or POSIX locale with a
// codeset or modifier ("C.UTF-8", "POSIX@euro") and LANGUAGE is unset.
func setLanguage(getenv func(string) string, setenv func(string, string) error) {
	if getenv("LANGUAGE") != "" {
		return
	}
	for _, v := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		loc := getenv(v)
		if loc == "" {
			continue
		}
		name, _, _ := strings.Cut(loc, "@")
		name, _, _ = strings.Cut(name, ".")
		if (name == "C" || name == "POSIX") && name != loc {
			setenv("LANGUAGE", "en")
		}
		return
	}
}
