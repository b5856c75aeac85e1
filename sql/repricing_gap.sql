-- Repricing gap: when the balance sheet reprices. Rate-sensitive assets (RSA)
-- and liabilities (RSL) by time bucket, the gap, the cumulative gap and the
-- gap as a share of total assets, in the reporting currency (fx_rates).
-- Liabilities are negative, so gap = RSA + RSL.
-- Run: almanac sql -f sql/repricing_gap.sql
--
-- Parameters: the analysis date (three times, in this view) and the bucket
-- scheme: 'bcbs' (the 19 Basel buckets), 'monthly', or edges such as '1M,3M,6M,1Y,5Y'.
CREATE OR REPLACE VIEW repricing_amounts AS
  SELECT r.side,
         gap_bucket(r.reprice_date, DATE '2025-12-31', 'bcbs') AS bucket,
         r.amount * x.rate_to_reporting AS amount
  FROM repricing('instruments', DATE '2025-12-31') r
  JOIN fx_rates x ON x.currency = UPPER(r.currency) AND x.as_of_date = DATE '2025-12-31';

WITH by_bucket AS (
  SELECT bucket,
         SUM(CASE WHEN side = 'asset' THEN amount ELSE 0 END) AS rsa,
         SUM(CASE WHEN side = 'liability' THEN amount ELSE 0 END) AS rsl,
         SUM(amount) AS gap
  FROM repricing_amounts
  GROUP BY bucket
)
SELECT bucket,
       ROUND(rsa, 0) AS rate_sensitive_assets,
       ROUND(rsl, 0) AS rate_sensitive_liabilities,
       ROUND(gap, 0) AS gap,
       ROUND(SUM(gap) OVER (ORDER BY bucket), 0) AS cumulative_gap,
       ROUND(100 * gap / SUM(rsa) OVER (), 2) AS gap_pct_total_assets
FROM by_bucket
ORDER BY bucket;
