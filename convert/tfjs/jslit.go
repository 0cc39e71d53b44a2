package tfjs

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
)

// Some packages (nsfwjs) ship models as browserify bundles, "model.min.js" and
// "group1-shardXofY.min.js", so that bundlers can import them. Each bundle holds
// one module whose exports are a JavaScript object literal (the model JSON,
// minified: bare keys, !0 for true) or a string (the shard's bytes in base64).

// moduleExports finds the value assigned to a browserify module's exports.
var moduleExports = regexp.MustCompile(`\.exports=[{"]`)

// readJSON returns b as JSON: b itself when it already is JSON, else the object
// literal exported by the JavaScript bundle b.
func readJSON(b []byte) ([]byte, error) {
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '{' {
		return b, nil
	}
	lit, err := exported(b, '{')
	if err != nil {
		return nil, err
	}
	p := &litParser{src: lit}
	out, err := p.value(nil)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// readWeights returns a weight shard's bytes: b itself, or the base64 string
// exported by the JavaScript bundle b.
func readWeights(b []byte, isJS bool) ([]byte, error) {
	if !isJS {
		return b, nil
	}
	lit, err := exported(b, '"')
	if err != nil {
		return nil, err
	}
	p := &litParser{src: lit}
	s, err := p.str()
	if err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(s)
}

// exported returns b from the start of the module's exported literal, which
// must begin with first.
func exported(b []byte, first byte) ([]byte, error) {
	loc := moduleExports.FindIndex(b)
	if loc == nil || b[loc[1]-1] != first {
		return nil, fmt.Errorf("not JSON and no browserify module exporting a %q literal", first)
	}
	return b[loc[1]-1:], nil
}

// litParser turns one JavaScript literal (objects, arrays, strings, numbers,
// true/false/null and their minified forms !0/!1) into JSON. Anything else,
// such as code, is an error: the files are data, never executed.
type litParser struct {
	src []byte
	pos int
}

func (p *litParser) errorf(format string, args ...any) error {
	end := min(p.pos+20, len(p.src))
	return fmt.Errorf("javascript literal at byte %d (%q): %s", p.pos, p.src[p.pos:end], fmt.Sprintf(format, args...))
}

func (p *litParser) skipSpace() {
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *litParser) peek() byte {
	p.skipSpace()
	if p.pos >= len(p.src) {
		return 0
	}
	return p.src[p.pos]
}

// value appends the JSON form of the next literal to out.
func (p *litParser) value(out []byte) ([]byte, error) {
	switch c := p.peek(); {
	case c == '{':
		return p.object(out)
	case c == '[':
		return p.array(out)
	case c == '"' || c == '\'':
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		b, _ := json.Marshal(s)
		return append(out, b...), nil
	case c == '!':
		switch {
		case bytes.HasPrefix(p.src[p.pos:], []byte("!0")):
			p.pos += 2
			return append(out, "true"...), nil
		case bytes.HasPrefix(p.src[p.pos:], []byte("!1")):
			p.pos += 2
			return append(out, "false"...), nil
		}
	case c == '-' || c == '.' || c >= '0' && c <= '9':
		return p.number(out)
	default:
		for _, w := range []string{"true", "false", "null"} {
			if bytes.HasPrefix(p.src[p.pos:], []byte(w)) && !isIdent(p.at(p.pos+len(w))) {
				p.pos += len(w)
				return append(out, w...), nil
			}
		}
		if bytes.HasPrefix(p.src[p.pos:], []byte("void 0")) {
			p.pos += len("void 0")
			return append(out, "null"...), nil
		}
	}
	return nil, p.errorf("unsupported value")
}

func (p *litParser) at(i int) byte {
	if i < len(p.src) {
		return p.src[i]
	}
	return 0
}

func isIdent(c byte) bool {
	return c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func (p *litParser) object(out []byte) ([]byte, error) {
	p.pos++ // {
	out = append(out, '{')
	for first := true; ; first = false {
		if p.peek() == '}' {
			p.pos++
			return append(out, '}'), nil
		}
		if !first {
			if p.peek() != ',' {
				return nil, p.errorf("want , or }")
			}
			p.pos++
			out = append(out, ',')
		}
		var key string
		switch c := p.peek(); {
		case c == '"' || c == '\'':
			s, err := p.str()
			if err != nil {
				return nil, err
			}
			key = s
		case isIdent(c):
			start := p.pos
			for p.pos < len(p.src) && isIdent(p.src[p.pos]) {
				p.pos++
			}
			key = string(p.src[start:p.pos])
		default:
			return nil, p.errorf("want a key")
		}
		if p.peek() != ':' {
			return nil, p.errorf("want :")
		}
		p.pos++
		k, _ := json.Marshal(key)
		out = append(append(out, k...), ':')
		var err error
		if out, err = p.value(out); err != nil {
			return nil, err
		}
	}
}

func (p *litParser) array(out []byte) ([]byte, error) {
	p.pos++ // [
	out = append(out, '[')
	for first := true; ; first = false {
		if p.peek() == ']' {
			p.pos++
			return append(out, ']'), nil
		}
		if !first {
			if p.peek() != ',' {
				return nil, p.errorf("want , or ]")
			}
			p.pos++
			out = append(out, ',')
		}
		var err error
		if out, err = p.value(out); err != nil {
			return nil, err
		}
	}
}

// str reads a quoted string; escapes are those of JSON plus \' and \xHH.
func (p *litParser) str() (string, error) {
	quote := p.peek()
	if quote != '"' && quote != '\'' {
		return "", p.errorf("want a string")
	}
	start := p.pos
	p.pos++
	var sb []byte
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case c == quote:
			p.pos++
			return string(sb), nil
		case c == '\\':
			if p.pos+1 >= len(p.src) {
				break
			}
			e := p.src[p.pos+1]
			p.pos += 2
			switch e {
			case 'n':
				sb = append(sb, '\n')
			case 't':
				sb = append(sb, '\t')
			case 'r':
				sb = append(sb, '\r')
			case 'b':
				sb = append(sb, '\b')
			case 'f':
				sb = append(sb, '\f')
			case 'x', 'u':
				n := 2
				if e == 'u' {
					n = 4
				}
				if p.pos+n > len(p.src) {
					p.pos = start
					return "", p.errorf("short escape")
				}
				v, err := strconv.ParseUint(string(p.src[p.pos:p.pos+n]), 16, 32)
				if err != nil {
					p.pos = start
					return "", p.errorf("bad escape")
				}
				sb = append(sb, string(rune(v))...)
				p.pos += n
			default:
				sb = append(sb, e)
			}
		case c == '\n':
			p.pos = start
			return "", p.errorf("newline in string")
		default:
			sb = append(sb, c)
			p.pos++
		}
	}
	p.pos = start
	return "", p.errorf("unterminated string")
}

// number reads a JavaScript number (".5", "-.5", "1e-3") and writes it in JSON form.
func (p *litParser) number(out []byte) ([]byte, error) {
	start := p.pos
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		if c >= '0' && c <= '9' || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E' {
			p.pos++
			continue
		}
		break
	}
	v, err := strconv.ParseFloat(string(p.src[start:p.pos]), 64)
	if err != nil {
		p.pos = start
		return nil, p.errorf("bad number")
	}
	return strconv.AppendFloat(out, v, 'g', -1, 64), nil
}
