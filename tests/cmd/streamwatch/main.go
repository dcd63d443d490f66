// Command streamwatch is a small WebSocket client of the platform's streams: it connects with
// the access token in CDX_TOKEN (sent in the Authorization header, never in the URL),
// subscribes to the streams named, and prints every message as a JSON line. For a book
// stream with -api it follows the documented procedure (buffer the diffs, fetch the REST
// snapshot, drop the diffs up to its last_update_id, apply the rest) and prints the top of
// the book after each diff, with its checksum checked.
//
//	CDX_TOKEN=$ALICE_TOKEN go run ./tests/cmd/streamwatch -streams account:$ALICE_ID
//	CDX_TOKEN=$ALICE_TOKEN go run ./tests/cmd/streamwatch -streams book:BTC-USD -api http://127.0.0.1:8080/api/v1
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strings"

	"github.com/cantondex/platform/tests/streamclient"
)

func main() {
	url := flag.String("url", "ws://127.0.0.1:8081/api/v1/stream", "the stream endpoint")
	streams := flag.String("streams", "", "comma-separated streams: account:<your id>, book:<market>, trades:<market>, ticker:<market>")
	api := flag.String("api", "", "the REST API (for a book stream: rebuild the book from its snapshot)")
	flag.Parse()
	if err := run(*url, strings.Split(*streams, ","), *api); err != nil {
		fmt.Fprintln(os.Stderr, "streamwatch:", err)
		os.Exit(1)
	}
}

func run(url string, streams []string, api string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	c, err := streamclient.Dial(ctx, url, os.Getenv("CDX_TOKEN"), nil)
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Println(string(c.Welcome.Raw))
	books := map[string]*streamclient.Book{}
	var pending []streamclient.Msg
	for _, s := range streams {
		if s == "" {
			continue
		}
		m, err := c.Subscribe(ctx, s, nil, func(m streamclient.Msg) { pending = append(pending, m) })
		if err != nil {
			return err
		}
		fmt.Println(string(m.Raw))
		if market, ok := strings.CutPrefix(s, "book:"); ok && api != "" && m.Type == "subscribed" {
			if books[market], err = snapshot(api, market); err != nil {
				return err
			}
		}
	}
	show := func(m streamclient.Msg) error {
		fmt.Println(string(m.Raw))
		market, ok := strings.CutPrefix(m.Stream, "book:")
		if b := books[market]; ok && b != nil && m.Type == "event" {
			var d streamclient.BookDiff
			if err := json.Unmarshal(m.Data, &d); err != nil {
				return err
			}
			applied, err := b.Apply(d)
			if err != nil {
				return err // a gap or a checksum mismatch: resubscribe and fetch the snapshot again
			}
			if applied {
				bids, asks := b.Levels()
				fmt.Printf("  %s update %d checksum ok  best bid %v  best ask %v\n", market, b.UpdateID, top(bids), top(asks))
			}
		}
		return nil
	}
	for _, m := range pending {
		if err := show(m); err != nil {
			return err
		}
	}
	for {
		m, err := c.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("%w (close code %d)", err, streamclient.CloseCode(err))
		}
		if err := show(m); err != nil {
			return err
		}
	}
}

func top(ls []streamclient.Level) string {
	if len(ls) == 0 {
		return "-"
	}
	return ls[0].Quantity + " @ " + ls[0].Price
}

func snapshot(api, market string) (*streamclient.Book, error) {
	var m struct {
		TickSize string `json:"tick_size"`
		LotSize  string `json:"lot_size"`
	}
	if err := getJSON(api+"/markets/"+market, &m); err != nil {
		return nil, err
	}
	var s streamclient.Snapshot
	if err := getJSON(api+"/markets/"+market+"/book?depth=500", &s); err != nil {
		return nil, err
	}
	return streamclient.NewBook(s, m.TickSize, m.LotSize), nil
}

func getJSON(url string, v any) error {
	res, err := http.Get(url)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		return fmt.Errorf("GET %s: %s", url, res.Status)
	}
	return json.NewDecoder(res.Body).Decode(v)
}
