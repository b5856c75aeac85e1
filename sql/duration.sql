-- Duration and convexity by portfolio and side: market value (PV at the base
-- curves), Macaulay duration, effective duration, DV01 and convexity, in the
-- reporting currency (fx_rates); then the duration gap of equity.
--   Macaulay = sum(t * PV) / sum(PV); effective = (PV(-1bp) - PV(+1bp)) / (2 * PV * 0.0001);
--   DV01 = (PV(-1bp) - PV(+1bp)) / 2; convexity = (PV(+1bp) + PV(-1bp) - 2 PV) / (PV * 0.0001^2)
--   (methodology.md). Floaters' projected coupons move with the curve, so their
--   effective duration is short even when their Macaulay duration is not.
-- Run: almanac sql -f sql/duration.sql
--
-- Parameters: the analysis date (in these views).
CREATE OR REPLACE VIEW duration_flows AS
  SELECT portfolio, side, scenario, UPPER(currency) AS currency, pay_date, SUM(total) AS total
  FROM cashflows('instruments', DATE '2025-12-31', 'parallel:+1,-1')
  GROUP BY portfolio, side, scenario, UPPER(currency), pay_date;
CREATE OR REPLACE VIEW duration_discount AS
  SELECT * FROM discount_factors('curves', DATE '2025-12-31', 'parallel:+1,-1', 200);

CREATE OR REPLACE TABLE duration_pv AS
SELECT f.portfolio, f.side,
       SUM(CASE WHEN f.scenario = 'base' THEN f.total * d.discount_factor * x.rate_to_reporting END) AS pv,
       SUM(CASE WHEN f.scenario = 'base' THEN d.t_years * f.total * d.discount_factor * x.rate_to_reporting END) AS pv_t,
       SUM(CASE WHEN f.scenario = 'parallel_+1' THEN f.total * d.discount_factor * x.rate_to_reporting END) AS pv_up,
       SUM(CASE WHEN f.scenario = 'parallel_-1' THEN f.total * d.discount_factor * x.rate_to_reporting END) AS pv_down
FROM duration_flows f
JOIN duration_discount d ON f.scenario = d.scenario AND f.currency = d.currency AND f.pay_date = d.date
JOIN fx_rates x ON x.currency = f.currency AND x.as_of_date = DATE '2025-12-31'
GROUP BY f.portfolio, f.side;

-- 1. By portfolio and side (liabilities have negative market values).
SELECT portfolio, side,
       ROUND(pv, 0) AS market_value,
       ROUND(pv_t / pv, 4) AS macaulay_duration,
       ROUND((pv_down - pv_up) / (2 * pv * 0.0001), 4) AS effective_duration,
       ROUND((pv_down - pv_up) / 2, 2) AS dv01,
       ROUND((pv_up + pv_down - 2 * pv) / (pv * 0.0001 * 0.0001), 2) AS convexity
FROM duration_pv
ORDER BY side, portfolio;

-- 2. Duration gap of equity: D_A - (L / A) * D_L, with effective durations.
WITH sides AS (
  SELECT side, SUM(pv) AS pv, SUM(pv_down - pv_up) / (2 * 0.0001) AS pv_sensitivity
  FROM duration_pv GROUP BY side
),
a AS (SELECT pv, pv_sensitivity / pv AS duration FROM sides WHERE side = 'asset'),
l AS (SELECT -pv AS pv, pv_sensitivity / pv AS duration FROM sides WHERE side = 'liability')
SELECT ROUND(a.pv, 0) AS assets_value,
       ROUND(l.pv, 0) AS liabilities_value,
       ROUND(a.pv - l.pv, 0) AS equity_value,
       ROUND(a.duration, 4) AS assets_duration,
       ROUND(l.duration, 4) AS liabilities_duration,
       ROUND(a.duration - (l.pv / a.pv) * l.duration, 4) AS duration_gap
FROM a CROSS JOIN l;
