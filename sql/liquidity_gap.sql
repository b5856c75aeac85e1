-- Liquidity gap: the maturity ladder of cash flows (interest and principal),
-- contractual and behavioural, in the reporting currency (fx_rates):
-- inflows, outflows (negative), net and cumulative net per time bucket.
--   contractual: no prepayment, and non-maturity deposits repayable on demand
--                (their whole balance in the overnight bucket);
--   behavioural: prepayment and deposit run-off as the instruments table says.
-- Run: almanac sql -f sql/liquidity_gap.sql
--
-- Parameters: the analysis date (in these views) and the bucket scheme
-- ('bcbs', 'monthly', or edges such as '1M,3M,6M,1Y,5Y').
CREATE OR REPLACE VIEW contractual_book AS
  SELECT * REPLACE (CAST(0.0 AS DOUBLE) AS prepayment_rate) FROM instruments WHERE maturity_date IS NOT NULL;

CREATE OR REPLACE VIEW liquidity_flows AS
  SELECT 'contractual' AS basis, UPPER(currency) AS currency, pay_date, total
  FROM cashflows('contractual_book', DATE '2025-12-31')
  UNION ALL
  SELECT 'contractual', UPPER(currency), DATE '2025-12-31' + INTERVAL '1 day',
         CASE WHEN LOWER(side) = 'asset' THEN balance ELSE -balance END
  FROM instruments WHERE maturity_date IS NULL
  UNION ALL
  SELECT 'behavioural', UPPER(currency), pay_date, total
  FROM cashflows('instruments', DATE '2025-12-31');

WITH bucketed AS (
  SELECT f.basis, gap_bucket(f.pay_date, DATE '2025-12-31', 'bcbs') AS bucket,
         f.total * x.rate_to_reporting AS amount
  FROM liquidity_flows f
  JOIN fx_rates x ON x.currency = f.currency AND x.as_of_date = DATE '2025-12-31'
),
ladder AS (
  SELECT basis, bucket,
         SUM(CASE WHEN amount > 0 THEN amount ELSE 0 END) AS inflows,
         SUM(CASE WHEN amount < 0 THEN amount ELSE 0 END) AS outflows,
         SUM(amount) AS net
  FROM bucketed GROUP BY basis, bucket
)
SELECT basis, bucket,
       ROUND(inflows, 0) AS inflows,
       ROUND(outflows, 0) AS outflows,
       ROUND(net, 0) AS net,
       ROUND(SUM(net) OVER (PARTITION BY basis ORDER BY bucket), 0) AS cumulative_net
FROM ladder
ORDER BY basis DESC, bucket;
