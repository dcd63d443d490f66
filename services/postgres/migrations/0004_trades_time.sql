-- The ticker's 24-hour window reads a market's trades by time.
CREATE INDEX trades_by_market_time ON trades (market, executed_at);
