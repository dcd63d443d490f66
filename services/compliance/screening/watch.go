package screening

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/cantondex/platform/services/compliance"
)

// Source names a list's files (Alt and Add: OFAC only, optional).
type Source struct{ Format, Path, Alt, Add string }

// Watcher is the screener over a list that is updated in place: it re-reads the list files
// every Interval and, when their content changed, swaps in the new list (so KYC and
// withdrawals screen against it at once) and hands the delta (Delta: the entries added or
// changed) to re-screening. A list that fails to load keeps the previous one. Safe for
// concurrent use.
//
// Why polling the files: the venue deploys a list as files (a volume the list-sync job or a
// ConfigMap update replaces, atomically by a symlink swap that file-change notifications
// miss), OFAC and the UN publish on no fixed schedule, and a content digest makes a touched
// but unchanged file no update. An update needs no restart, no route and no credential.
type Watcher struct {
	Source   Source
	MinScore float64
	// Interval between checks of the files; zero: the list is loaded once.
	Interval time.Duration
	// RescreenOnStart screens every account against the whole list when Watch starts (a new
	// list or review threshold deployed with a restart), idempotently: hits already cased open
	// nothing.
	RescreenOnStart bool

	cur atomic.Pointer[loadedList]
}

type loadedList struct {
	entries []Entry
	sc      Screener
	digest  string
}

var (
	_ compliance.Screener        = (*Watcher)(nil)
	_ compliance.AddressScreener = (*Watcher)(nil)
	_ compliance.ListWatcher     = (*Watcher)(nil)
)

// NewWatcher loads the list.
func NewWatcher(src Source, minScore float64) (*Watcher, error) {
	w := &Watcher{Source: src, MinScore: minScore}
	if _, _, err := w.Reload(); err != nil {
		return nil, err
	}
	return w, nil
}

// ScreenName implements compliance.Screener on the current list.
func (w *Watcher) ScreenName(name, dob, country string) []compliance.Hit {
	return w.cur.Load().sc.ScreenName(name, dob, country)
}

// ScreenAddress implements compliance.AddressScreener on the current list.
func (w *Watcher) ScreenAddress(address string) []compliance.Hit {
	return w.cur.Load().sc.ScreenAddress(address)
}

// Len is the number of entries of the current list.
func (w *Watcher) Len() int { return len(w.cur.Load().entries) }

// Digest is the current list files' SHA-256 (hex).
func (w *Watcher) Digest() string { return w.cur.Load().digest }

func (w *Watcher) digest() (string, error) {
	h := sha256.New()
	for _, p := range []string{w.Source.Path, w.Source.Alt, w.Source.Add} {
		if p == "" {
			continue
		}
		f, err := os.Open(p)
		if err != nil {
			return "", err
		}
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return "", err
		}
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Reload reads the files; when their content differs from the current list's it swaps the
// new list in and returns the entries added or changed (changed true).
func (w *Watcher) Reload() (delta []Entry, changed bool, err error) {
	d, err := w.digest()
	if err != nil {
		return nil, false, fmt.Errorf("screening list: %w", err)
	}
	prev := w.cur.Load()
	if prev != nil && prev.digest == d {
		return nil, false, nil
	}
	entries, err := LoadFiles(w.Source.Format, w.Source.Path, w.Source.Alt, w.Source.Add)
	if err != nil {
		return nil, false, fmt.Errorf("screening list: %w", err)
	}
	next := &loadedList{entries: entries, sc: Screener{Index: NewIndex(entries), MinScore: w.MinScore}, digest: d}
	if prev == nil {
		w.cur.Store(next)
		return entries, true, nil
	}
	delta = Delta(prev.entries, entries)
	w.cur.Store(next)
	return delta, true, nil
}

// Watch implements compliance.ListWatcher: the start-up re-screening (RescreenOnStart), then
// a check every Interval until ctx ends; each change re-screens against its delta.
func (w *Watcher) Watch(ctx context.Context, log *slog.Logger, rescreen compliance.RescreenFunc) error {
	run := func(delta []Entry, what map[string]any) {
		if len(delta) == 0 {
			return
		}
		res, err := rescreen(ctx, Screener{Index: NewIndex(delta), MinScore: w.MinScore}, what)
		if err != nil {
			log.Error("screening: re-screening failed", "err", err, "list", what)
			return
		}
		log.Info("screening: accounts re-screened", "list", what, "accounts", res.Accounts, "hits", res.Hits, "cases_opened", len(res.Opened))
	}
	if w.RescreenOnStart {
		cur := w.cur.Load()
		run(cur.entries, map[string]any{"digest": cur.digest, "entries": len(cur.entries), "screened_against": "whole list (start)"})
	}
	if w.Interval <= 0 {
		return nil
	}
	t := time.NewTicker(w.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		prev := w.cur.Load().digest
		delta, changed, err := w.Reload()
		if err != nil {
			log.Error("screening: list reload failed; the previous list stays in force", "err", err)
			continue
		}
		if !changed {
			continue
		}
		cur := w.cur.Load()
		log.Info("screening: list updated", "digest", cur.digest, "entries", len(cur.entries), "added_or_changed", len(delta))
		run(delta, map[string]any{"digest": cur.digest, "previous_digest": prev, "entries": len(cur.entries),
			"added_or_changed": len(delta), "screened_against": "delta"})
	}
}
