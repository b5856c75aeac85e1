-- IRRBB standardised approach (BCBS 368): repricing cash flows slotted into
-- the 19 Basel time buckets and discounted at the bucket midpoints, per
-- currency and supervisory shock; delta EVE against the base and the outlier
-- test on the worst loss, aggregated the Basel way (losses only).
--   Slotting: principal at its repricing date (a floater's whole balance at its
--   next reset, from repricing()), interest coupons when paid, for floaters
--   only up to that reset.
--   Discounting: exp(-R_s(t_k) * t_k) at the midpoint t_k of bucket k, where R_s
--   is the currency's discount curve under shock s (post-shock floor applied),
--   read at the calendar day nearest to t_k.
-- Run: almanac sql -f sql/irrbb_standardised.sql
--
-- Parameters: the analysis date (in these views).
CREATE OR REPLACE VIEW std_repricing AS
  SELECT instrument_id, UPPER(currency) AS currency, reprice_date, amount, kind
  FROM repricing('instruments', DATE '2025-12-31');
-- (The small table of next resets is the join's build side, so the cash flows stream through.)
CREATE OR REPLACE VIEW std_interest AS
  SELECT UPPER(c.currency) AS currency, c.pay_date, c.interest
  FROM (SELECT instrument_id AS reset_id, reprice_date AS reset_date FROM std_repricing WHERE kind = 'reset') r
  RIGHT JOIN cashflows('instruments', DATE '2025-12-31') c ON r.reset_id = c.instrument_id
  WHERE r.reset_date IS NULL OR c.pay_date <= r.reset_date;
CREATE OR REPLACE VIEW std_rates AS
  SELECT * FROM discount_factors('curves', DATE '2025-12-31', 'bcbs', 30);

CREATE OR REPLACE TABLE std_eve AS
WITH slotted AS (
  SELECT currency, gap_bucket(reprice_date, DATE '2025-12-31') AS bucket, amount FROM std_repricing
  UNION ALL
  SELECT currency, gap_bucket(pay_date, DATE '2025-12-31'), interest FROM std_interest
),
buckets AS (
  SELECT currency, bucket, bucket_midpoint(bucket) AS t,
         CAST(ROUND(bucket_midpoint(bucket) * 365) AS INT) AS day, SUM(amount) AS cash_flow
  FROM slotted GROUP BY currency, bucket
),
pv AS (
  SELECT b.currency, r.scenario, SUM(b.cash_flow * discount_factor(r.zero_rate, b.t)) AS eve
  FROM buckets b
  JOIN std_rates r ON r.currency = b.currency AND CAST(ROUND(r.t_years * 365) AS INT) = b.day
  GROUP BY b.currency, r.scenario
)
SELECT currency, scenario, eve,
       eve - MAX(CASE WHEN scenario = 'base' THEN eve END) OVER (PARTITION BY currency) AS delta_eve
FROM pv;

-- 1. Per currency.
SELECT currency, scenario, ROUND(eve, 0) AS eve, ROUND(delta_eve, 0) AS delta_eve
FROM std_eve ORDER BY currency, scenario;

-- 2. Basel aggregation in the reporting currency and the 15 % of Tier 1 outlier test.
WITH losses AS (
  SELECT e.scenario, SUM(GREATEST(-e.delta_eve * x.rate_to_reporting, 0)) AS basel_loss
  FROM std_eve e JOIN fx_rates x ON x.currency = e.currency AND x.as_of_date = DATE '2025-12-31'
  WHERE e.scenario <> 'base' GROUP BY e.scenario
)
SELECT l.scenario, ROUND(l.basel_loss, 0) AS basel_loss,
       ROUND(100 * l.basel_loss / c.tier1_capital, 2) AS loss_pct_tier1,
       CASE WHEN l.basel_loss > 0.15 * c.tier1_capital THEN 'OUTLIER (>15% of Tier 1)' ELSE 'ok' END AS outlier_test
FROM losses l
CROSS JOIN (SELECT tier1_capital FROM capital WHERE as_of_date = DATE '2025-12-31') c
ORDER BY l.scenario;
