package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	goredis "github.com/redis/go-redis/v9"

	"github.com/cantondex/platform/services/trading"
)

// Books caches the depth the matching engine publishes, for the API to read.
type Books struct{ c *Client }

// Books returns the book cache on c.
func (c *Client) Books() *Books { return &Books{c: c} }

// Put stores b as its market's current depth.
func (b *Books) Put(ctx context.Context, books ...trading.Book) error {
	pipe := b.c.rdb.Pipeline()
	for _, bk := range books {
		v, err := json.Marshal(bk)
		if err != nil {
			return err
		}
		pipe.Set(ctx, b.c.key("book", bk.Market), v, 0)
	}
	_, err := pipe.Exec(ctx)
	if err != nil {
		return fmt.Errorf("put books: %w", err)
	}
	return nil
}

// Book returns up to depth levels a side of market's book; an unknown market is empty.
func (b *Books) Book(ctx context.Context, market string, depth int) (trading.Book, error) {
	out := trading.Book{Market: market}
	v, err := b.c.rdb.Get(ctx, b.c.key("book", market)).Bytes()
	if errors.Is(err, goredis.Nil) {
		return out, nil
	}
	if err != nil {
		return out, trading.Errorf(trading.EUNAVAILABLE, "book cache unavailable")
	}
	if err := json.Unmarshal(v, &out); err != nil {
		return out, fmt.Errorf("decode book: %w", err)
	}
	if len(out.Bids) > depth {
		out.Bids = out.Bids[:depth]
	}
	if len(out.Asks) > depth {
		out.Asks = out.Asks[:depth]
	}
	return out, nil
}
