package httpapi

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/paycenter/paycenter/core"
)

// Request bodies are decoded with github.com/go-json-experiment/json rather than
// encoding/json because of what encoding/json lets through: it takes the last of duplicate
// names ({"amount":1000,"amount":99999999} charged the second), matches names without regard
// to case ({"Amount":5} set amount) and rewrites invalid UTF-8 to U+FFFD. The options below
// refuse all three, for every route at once. Answers are still written by encoding/json, so
// that what clients read, and what is replayed, does not change.
var decodeOptions = json.JoinOptions(
	json.RejectUnknownMembers(true),
	json.MatchCaseInsensitiveNames(false),
	jsontext.AllowDuplicateNames(false),
	jsontext.AllowInvalidUTF8(false),
	json.WithUnmarshalers(json.UnmarshalFromFunc(decodeStringMap)),
)

// decodeRequiring is decode that also insists the body names each of required (at its top
// level, not null): a field whose Go zero value is a valid-looking input, such as an
// amount, is then parameter_missing when absent rather than parameter_invalid as a zero.
func (s *Server) decodeRequiring(w http.ResponseWriter, r *http.Request, dst any, required ...string) error {
	var raw []byte
	if err := s.decodeBody(w, r, dst, &raw); err != nil {
		return err
	}
	var present map[string]jsontext.Value
	if err := json.Unmarshal(raw, &present); err != nil {
		return core.Errorf(core.CodeInvalidJSON, "The request body must be a JSON object.")
	}
	for _, name := range required {
		if v, ok := present[name]; !ok || v.Kind() == 'n' {
			return core.ParamError(core.CodeParameterMissing, name, "%s is required.", name)
		}
	}
	return nil
}

// decode reads a JSON body into dst strictly: bounded size, not declared as another type, one JSON object,
// no duplicate, unknown or differently-cased names, types checked, valid UTF-8. An empty body
// is an empty object (and needs no Content-Type).
func (s *Server) decode(w http.ResponseWriter, r *http.Request, dst any) error {
	return s.decodeBody(w, r, dst, nil)
}

// decodeBody is decode, keeping the body read in *raw if raw is not nil.
func (s *Server) decodeBody(w http.ResponseWriter, r *http.Request, dst any, raw *[]byte) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return core.Errorf(core.CodeBodyTooLarge, "The request body exceeds %d bytes.", s.cfg.MaxBodyBytes)
		}
		return core.Errorf(core.CodeInvalidJSON, "The request body could not be read.")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	} else if err := jsonContentType(r.Header); err != nil {
		return err
	}
	if raw != nil {
		*raw = body
	}
	return decodeJSON(body, dst)
}

// jsonContentType insists that a body is not declared as anything but JSON in UTF-8. A body
// sent without a Content-Type is taken as JSON: clients that never sent one keep working,
// while one that says otherwise (a form, text/plain, which a browser may send to another
// site without asking) is refused rather than read as what it says it is not.
func jsonContentType(h http.Header) error {
	cts := h.Values("Content-Type")
	if len(cts) == 0 {
		return nil
	}
	if len(cts) == 1 {
		mt, params, err := mime.ParseMediaType(cts[0])
		cs, hasCS := params["charset"]
		if err == nil && mt == "application/json" && (!hasCS || strings.EqualFold(cs, "utf-8")) {
			return nil
		}
	}
	return core.Errorf(core.CodeUnsupportedMediaType, "Request bodies must be JSON: send 'Content-Type: application/json' (or none).")
}

// decodeJSON decodes one JSON object from body into dst, mapping every failure to a coded
// error that names the parameter at fault.
func decodeJSON(body []byte, dst any) error {
	err := json.Unmarshal(body, dst, decodeOptions)
	if err == nil {
		return nil
	}
	var coded *core.Error
	if errors.As(err, &coded) {
		return coded
	}
	var syn *jsontext.SyntacticError
	if errors.As(err, &syn) {
		param := paramOf(syn.JSONPointer)
		switch {
		case errors.Is(syn.Err, jsontext.ErrDuplicateName) && param != "":
			return core.ParamError(core.CodeParameterInvalid, param, "%s is given more than once: each parameter may appear once.", param)
		case !utf8.Valid(body) && param != "":
			return core.ParamError(core.CodeParameterInvalid, param, "%s is not valid UTF-8.", param)
		case !utf8.Valid(body):
			return core.Errorf(core.CodeInvalidJSON, "The request body is not valid UTF-8.")
		}
		return core.Errorf(core.CodeInvalidJSON, "The request body is not valid JSON (at byte %d).", syn.ByteOffset)
	}
	var sem *json.SemanticError
	if errors.As(err, &sem) {
		param := paramOf(sem.JSONPointer)
		switch {
		case param == "":
			return core.Errorf(core.CodeInvalidJSON, "The request body must be a JSON object.")
		case errors.Is(sem.Err, json.ErrUnknownName):
			return core.ParamError(core.CodeParameterUnknown, param, "Received unknown parameter: %s.", param)
		}
		return core.ParamError(core.CodeParameterInvalid, param, "%s must be %s (got %s).", param, goTypeName(sem), kindName(sem.JSONKind))
	}
	return core.Errorf(core.CodeInvalidJSON, "The request body is not valid JSON.")
}

// decodeStringMap decodes the string-to-string objects (metadata, credentials): an object
// whose values are all strings, or null. A null or non-string value is refused by name
// (metadata[k]) rather than turned into "".
func decodeStringMap(dec *jsontext.Decoder, m *map[string]string) error {
	base := paramOf(dec.StackPointer())
	switch k := dec.PeekKind(); k {
	case 'n':
		if _, err := dec.ReadToken(); err != nil {
			return err
		}
		*m = nil
		return nil
	case '{':
	default:
		return core.ParamError(core.CodeParameterInvalid, base, "%s must be an object of string values (got %s).", base, kindName(k))
	}
	if _, err := dec.ReadToken(); err != nil {
		return err
	}
	if *m == nil {
		*m = map[string]string{}
	}
	for dec.PeekKind() != '}' {
		tok, err := dec.ReadToken()
		if err != nil {
			return err
		}
		name := tok.String() // before the next read voids tok
		param := base + "[" + clip(name) + "]"
		if k := dec.PeekKind(); k != '"' {
			if k == 0 { // a syntax error: let the read report it
				_, err := dec.ReadToken()
				return err
			}
			return core.ParamError(core.CodeParameterInvalid, param, "%s must be a string (got %s).", param, kindName(k))
		}
		v, err := dec.ReadToken()
		if err != nil {
			return err
		}
		(*m)[name] = v.String()
	}
	_, err := dec.ReadToken()
	return err
}

// paramOf names the parameter a JSON pointer points at, as the API's docs and errors name
// them: payment_method.card.number, metadata[order_id].
func paramOf(p jsontext.Pointer) string {
	var b strings.Builder
	inMap := false
	for tok := range p.Tokens() {
		tok = clip(tok)
		switch {
		case b.Len() == 0:
			b.WriteString(tok)
		case inMap:
			b.WriteString("[" + tok + "]")
		default:
			b.WriteString("." + tok)
		}
		inMap = tok == "metadata" || tok == "credentials"
	}
	return b.String()
}

// clip bounds a client-given name before it is echoed in an error.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func kindName(k jsontext.Kind) string {
	switch k {
	case 'n':
		return "null"
	case 'f', 't':
		return "a boolean"
	case '"':
		return "a string"
	case '0':
		return "a number"
	case '{':
		return "an object"
	case '[':
		return "an array"
	}
	return "an invalid value"
}

func goTypeName(e *json.SemanticError) string {
	if e.GoType == nil {
		return "of another type"
	}
	switch k := e.GoType.Kind().String(); {
	case strings.HasPrefix(k, "int"), strings.HasPrefix(k, "uint"):
		return "an integer"
	case k == "string":
		return "a string"
	case k == "bool":
		return "a boolean"
	case k == "map":
		return "an object of string values"
	case k == "ptr":
		return goTypeName(&json.SemanticError{GoType: e.GoType.Elem()})
	}
	return "an object"
}
