-- EVE sensitivity: the economic value of equity under the six Basel
-- supervisory shocks (BCBS 368), per currency, and the supervisory outlier test.
--
-- EVE(s) = sum of every cash flow discounted on its currency's discount curve
-- under scenario s; delta EVE = EVE(s) - EVE(base). Losses are negative here.
-- Run: almanac sql -f sql/eve_sensitivity.sql
--
-- Parameters: the analysis date (in both views) and the scenario set.
-- Cash flows are summed per scenario, currency and date before discounting,
-- so the join is small; the discount table spans 200 years, the longest term
-- the data contract accepts, so no flow falls off the join.
CREATE OR REPLACE VIEW eve_flows AS
  SELECT scenario, UPPER(currency) AS currency, pay_date, SUM(total) AS total
  FROM cashflows('instruments', DATE '2025-12-31', 'bcbs')
  GROUP BY scenario, UPPER(currency), pay_date;
CREATE OR REPLACE VIEW eve_discount AS
  SELECT * FROM discount_factors('curves', DATE '2025-12-31', 'bcbs', 200);

CREATE OR REPLACE TABLE eve_by_currency AS
WITH pv AS (
  SELECT f.currency, f.scenario, SUM(f.total * d.discount_factor) AS eve
  FROM eve_flows f
  JOIN eve_discount d
    ON f.scenario = d.scenario AND f.currency = d.currency AND f.pay_date = d.date
  GROUP BY f.currency, f.scenario
)
SELECT currency, scenario, eve,
       eve - MAX(CASE WHEN scenario = 'base' THEN eve END) OVER (PARTITION BY currency) AS delta_eve
FROM pv;

-- 1. Per currency, in that currency.
SELECT currency, scenario,
       ROUND(eve, 0) AS eve,
       ROUND(delta_eve, 0) AS delta_eve,
       ROUND(100 * delta_eve / NULLIF(ABS(eve - delta_eve), 0), 2) AS delta_pct_eve
FROM eve_by_currency
ORDER BY currency, scenario;

-- 2. Across currencies in the reporting currency (fx_rates), Basel (losses only)
--    and EU (losses plus half the gains), against Tier 1 capital.
WITH converted AS (
  SELECT e.scenario, e.delta_eve * x.rate_to_reporting AS delta_eve
  FROM eve_by_currency e
  JOIN fx_rates x ON x.currency = e.currency AND x.as_of_date = DATE '2025-12-31'
  WHERE e.scenario <> 'base'
),
by_scenario AS (
  SELECT scenario,
         SUM(GREATEST(-delta_eve, 0)) AS basel_loss,
         SUM(GREATEST(-delta_eve, 0)) - 0.5 * SUM(GREATEST(delta_eve, 0)) AS eu_loss
  FROM converted GROUP BY scenario
)
SELECT s.scenario,
       ROUND(s.basel_loss, 0) AS basel_loss,
       ROUND(s.eu_loss, 0) AS eu_loss,
       ROUND(c.tier1_capital, 0) AS tier1,
       ROUND(100 * s.basel_loss / c.tier1_capital, 2) AS basel_loss_pct_tier1,
       CASE WHEN s.basel_loss = MAX(s.basel_loss) OVER () THEN 'worst' ELSE '' END AS worst,
       CASE WHEN s.basel_loss > 0.15 * c.tier1_capital THEN 'OUTLIER (>15% of Tier 1)' ELSE 'ok' END AS outlier_test
FROM by_scenario s
CROSS JOIN (SELECT tier1_capital FROM capital WHERE as_of_date = DATE '2025-12-31') c
ORDER BY s.scenario;
