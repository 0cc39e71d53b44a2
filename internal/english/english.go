// Package english spells counts in messages: "1 photo", "2 photos".
package english

import (
	"strconv"
	"strings"
)

// Count is n followed by noun, plural unless n is 1. A noun whose plural is
// not noun+"s" is given as "singular|plural": Count(2, "variant") is
// "2 variants", Count(1, "match|matches") is "1 match".
func Count(n int, noun string) string {
	return strconv.Itoa(n) + " " + Noun(n, noun)
}

// Noun is noun in the form that goes with n (see Count).
func Noun(n int, noun string) string {
	singular, plural, irregular := strings.Cut(noun, "|")
	if n == 1 {
		return singular
	}
	if irregular {
		return plural
	}
	return singular + "s"
}

// List joins items as a sentence does: "a", "a and b", "a, b and c".
func List(items []string) string {
	if len(items) <= 1 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}
