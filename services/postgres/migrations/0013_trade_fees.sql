-- The fees settlement charged each side of a trade, recorded with the trade in the same
-- transaction as the ledger transfer that charged them (settlement.Batch.Trades[i].Fees):
-- in minor units of the asset the side received (the buyer base, the seller quote; which
-- asset follows from the market and taker_side, trading.Trade.FeeAssets). Trades settled
-- before this migration have no recorded fee: both columns stay NULL and the API shows the
-- fee as null, not as a zero nobody charged. Adding nullable columns rewrites nothing; the
-- checks hold for every earlier row (NULL), so they are added without a scan (NOT VALID
-- still applies them to every new row).
ALTER TABLE trades
    ADD COLUMN maker_fee bigint,
    ADD COLUMN taker_fee bigint;
ALTER TABLE trades
    ADD CONSTRAINT trades_fees_recorded CHECK ((maker_fee IS NULL) = (taker_fee IS NULL)) NOT VALID,
    ADD CONSTRAINT trades_fees_not_negative CHECK (maker_fee >= 0 AND taker_fee >= 0) NOT VALID;
