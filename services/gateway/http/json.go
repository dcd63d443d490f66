package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/cantondex/platform/services/trading"
)

// decode reads a JSON request body into v strictly: JSON content type, valid UTF-8, one
// object, every key spelled exactly as a field of v (no case folding) and given once, no
// unknown fields, no control characters in any string, right types. Errors are
// trading.EINVALID with a message naming the field.
func decode(c echo.Context, v any) error {
	req := c.Request()
	if ct := req.Header.Get(echo.HeaderContentType); ct != echo.MIMEApplicationJSON {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != echo.MIMEApplicationJSON {
			return echo.ErrUnsupportedMediaType
		}
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return err // the body limit's 413, or a broken connection
	}
	return decodeJSON(body, v)
}

// decodeJSON is decode's checks on a body already read.
func decodeJSON(body []byte, v any) error {
	if r, ok := v.(*placeOrderRequest); ok {
		return r.decode(body)
	}
	return decodeGeneric(body, v)
}

// decodeGeneric is decodeJSON for any type, by reflection.
func decodeGeneric(body []byte, v any) error {
	if !utf8.Valid(body) {
		return trading.Errorf(trading.EINVALID, "request body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := strictValue(dec, reflect.TypeOf(v), 0); err != nil {
		return err
	}
	dec = json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return bodyError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return trading.Errorf(trading.EINVALID, "request body must be one JSON object")
	}
	return nil
}

var errNotJSON = trading.Errorf(trading.EINVALID, "request body is not valid JSON")

// strictValue reads one JSON value from dec, checking it against t (nil: anything): object
// keys must be t's exact JSON field names, each once; strings must be text.
func strictValue(dec *json.Decoder, t reflect.Type, depth int) error {
	if depth > 16 {
		return trading.Errorf(trading.EINVALID, "request body is nested too deeply")
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	tok, err := dec.Token()
	if err != nil {
		return errNotJSON
	}
	switch tok := tok.(type) {
	case string:
		if !validText(tok) {
			return trading.Errorf(trading.EINVALID, "request body has control characters in a string")
		}
	case json.Delim:
		switch tok {
		case '{':
			return strictObject(dec, t, depth)
		case '[':
			var elem reflect.Type
			if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
				elem = t.Elem()
			}
			for dec.More() {
				if err := strictValue(dec, elem, depth+1); err != nil {
					return err
				}
			}
			if _, err := dec.Token(); err != nil {
				return errNotJSON
			}
		}
	}
	return nil
}

func strictObject(dec *json.Decoder, t reflect.Type, depth int) error {
	var fields map[string]reflect.Type
	var elem reflect.Type
	if t != nil && t.Kind() == reflect.Struct {
		fields = jsonFields(t)
	} else if t != nil && t.Kind() == reflect.Map {
		elem = t.Elem()
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		key, ok := tok.(string)
		if err != nil || !ok {
			return errNotJSON
		}
		if !validText(key) || len(key) > 64 {
			return trading.Errorf(trading.EINVALID, "request body has an invalid field name")
		}
		if seen[key] {
			return trading.Errorf(trading.EINVALID, "field %s is given twice", strconv.Quote(key))
		}
		seen[key] = true
		ft := elem
		if fields != nil {
			if ft, ok = fields[key]; !ok {
				return trading.Errorf(trading.EINVALID, "unknown field %s", strconv.Quote(key))
			}
		}
		if err := strictValue(dec, ft, depth+1); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return errNotJSON
	}
	return nil
}

// jsonFields maps the exact JSON names of t's fields (embedded structs' included) to their
// types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			for k, v := range jsonFields(f.Type) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

// validText reports whether s is valid UTF-8 without control characters.
func validText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

func bodyError(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	var he *echo.HTTPError
	switch {
	case errors.As(err, &he):
		return err // body limit
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return trading.Errorf(trading.EINVALID, "request body must be a JSON object")
		}
		return trading.Errorf(trading.EINVALID, "field %s must be %s", typeErr.Field, jsonKind(typeErr.Type.Kind().String()))
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return trading.Errorf(trading.EINVALID, "request body is not valid JSON")
	default:
		if f, ok := unknownField(err.Error()); ok {
			return trading.Errorf(trading.EINVALID, "unknown field %s", f)
		}
		return trading.Errorf(trading.EINVALID, "request body is not valid JSON")
	}
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice":
		return "an array"
	case "struct", "map":
		return "an object"
	default:
		return "a number"
	}
}

var unknownFieldRE = regexp.MustCompile(`^json: unknown field "([^"]{1,64})"$`)

func unknownField(msg string) (string, bool) {
	m := unknownFieldRE.FindStringSubmatch(msg)
	if m == nil {
		return "", false
	}
	return strconv.Quote(m[1]), true
}

// timestamp writes t as RFC 3339 in UTC.
func timestamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// list is every listing's shape.
type list[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

func page[T any](items []T, next string) list[T] {
	if items == nil {
		items = []T{}
	}
	l := list[T]{Items: items}
	if next != "" {
		l.NextCursor = &next
	}
	return l
}

var idRE = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,128}$`)

// pathID reads an id from the path. Anything that cannot be an id is not found, like an id of
// someone else.
func pathID(c echo.Context, name, what string) (string, error) {
	id := c.Param(name)
	if !idRE.MatchString(id) || id == "." || id == ".." {
		return "", trading.Errorf(trading.ENOTFOUND, "%s not found", what)
	}
	return id, nil
}

// intQuery reads an optional integer query parameter within [lo, hi].
func intQuery(c echo.Context, name string, def, lo, hi int) (int, error) {
	s := c.QueryParam(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, trading.Errorf(trading.EINVALID, "%s must be an integer from %d to %d", name, lo, hi)
	}
	return n, nil
}

// steps are a market's tick and lot steps (trading.Steps: one parser and formatter of them).
type steps = trading.Steps

// stepsOf is m's steps; a market whose sizes do not parse is a server fault, not the caller's.
func stepsOf(m trading.MarketDef) (steps, error) {
	st, err := trading.StepsOf(m)
	if err != nil {
		return st, fmt.Errorf("market %s: %s", m.Symbol, trading.ErrorMessage(err))
	}
	return st, nil
}

// parseAmount reads a positive asset amount in minor units of an asset with scale.
func parseAmount(field, v string, scale int) (int64, error) {
	return trading.ParseSteps(field, v, 1, scale, "asset's precision")
}
