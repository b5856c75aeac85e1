-- The EVE workload in plain SQL, for DuckDB: the same book, the same discount
-- factors (Almanac's discount_factors() for base and the six Basel shocks,
-- written to Parquet beforehand), cash flows expanded with generate_series.
--
-- What plain SQL expresses here, and so what this version does: fixed-rate
-- schedules rolled back from maturity every payment_months (no business-day
-- adjustment), interest at rate x payment_months / 12 (no day counts),
-- bullet / linear / annuity principal in closed form, CPR run-off as a
-- survival factor per period, non-maturity deposits run off monthly over
-- behavioral_months; floaters are treated as fixed at their current rate and
-- the flows are the same under every scenario (Almanac projects floaters and
-- prepayment multipliers per scenario, 7x the flows). It is therefore less
-- work than Almanac's, which makes the ratio conservative.
-- Parameters: {book} (the instruments Parquet) and {discount} (the factors).
WITH inst AS (
  SELECT CASE WHEN lower(side) = 'asset' THEN 1.0 ELSE -1.0 END AS sign,
         upper(currency) AS currency,
         balance,
         rate,
         COALESCE(prepayment_rate, 0.0) AS cpr,
         lower(amortization) AS amortization,
         COALESCE(maturity_date, DATE '2025-12-31' + to_months(COALESCE(behavioral_months, 60))) AS end_date,
         CASE WHEN maturity_date IS NULL THEN 1 ELSE payment_months END AS step_raw
  FROM read_parquet('{book}')
),
sized AS (
  SELECT *,
         greatest(date_diff('month', DATE '2025-12-31', end_date), 1) AS months_left
  FROM inst
),
stepped AS (
  SELECT *,
         CASE WHEN step_raw = 0 THEN months_left ELSE step_raw END AS step
  FROM sized
),
counted AS (
  SELECT *,
         CAST(ceil(months_left / step) AS BIGINT) AS n,
         rate * step / 12.0 AS p
  FROM stepped
),
flows AS (
  SELECT c.sign, c.currency, c.balance, c.p, c.n, c.cpr, c.step, c.amortization, k,
         CAST(c.end_date - to_months(CAST((c.n - k) * c.step AS INTEGER)) AS DATE) AS pay_date,
         -- scheduled balance before and after period k, as a share of the balance
         CASE c.amortization
           WHEN 'bullet' THEN 1.0
           WHEN 'linear' THEN 1.0 - (k - 1) / c.n
           ELSE CASE WHEN c.p = 0 THEN 1.0 - (k - 1) / c.n
                     ELSE (pow(1 + c.p, c.n) - pow(1 + c.p, k - 1)) / (pow(1 + c.p, c.n) - 1) END
         END AS before_share,
         CASE WHEN k = c.n THEN 0.0 ELSE
           CASE c.amortization
             WHEN 'bullet' THEN 1.0
             WHEN 'linear' THEN 1.0 - k / c.n
             ELSE CASE WHEN c.p = 0 THEN 1.0 - k / c.n
                       ELSE (pow(1 + c.p, c.n) - pow(1 + c.p, k)) / (pow(1 + c.p, c.n) - 1) END
           END
         END AS after_share
  FROM counted c, generate_series(1, c.n) AS g(k)
),
amounts AS (
  SELECT currency, pay_date,
         sign * balance * (
           pow(1 - cpr, (k - 1) * step / 12.0) * (before_share * p + before_share - after_share)
           + after_share * (pow(1 - cpr, (k - 1) * step / 12.0) - pow(1 - cpr, k * step / 12.0))
         ) AS total
  FROM flows
),
by_date AS (
  SELECT currency, pay_date, SUM(total) AS total, COUNT(*) AS flows
  FROM amounts
  GROUP BY 1, 2
)
SELECT d.scenario, f.currency, SUM(f.total * d.discount_factor) AS eve, SUM(f.flows) AS flows
FROM by_date f
JOIN read_parquet('{discount}') d ON d.currency = f.currency AND d.date = f.pay_date
GROUP BY 1, 2
ORDER BY 1, 2;
