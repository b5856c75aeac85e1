-- NII sensitivity: net interest income over the next 12 months on a constant
-- balance sheet, under the base curves, parallel shocks of +-100 and +-200 bp,
-- and ramps of +-200 bp (rates moving linearly over the first year), in the
-- reporting currency (fx_rates); delta NII against the base as a share of
-- Tier 1, and the supervisory flag when the worst parallel +-200 bp loss
-- exceeds 5 % of Tier 1.
-- Run: almanac sql -f sql/nii_sensitivity.sql
--
-- Parameters: the analysis date (in these views) and the horizon (12 months).
CREATE OR REPLACE VIEW nii_months AS
  SELECT scenario, UPPER(currency) AS currency, interest
  FROM nii_projection('instruments', DATE '2025-12-31', 12, 'parallel:+100,-100,+200,-200')
  UNION ALL
  SELECT scenario, UPPER(currency), interest
  FROM nii_projection('instruments', DATE '2025-12-31', 12, 'ramp:+200,-200')
  WHERE scenario <> 'base';

CREATE OR REPLACE TABLE nii_by_scenario AS
SELECT n.scenario, SUM(n.interest * x.rate_to_reporting) AS nii
FROM nii_months n
JOIN fx_rates x ON x.currency = n.currency AND x.as_of_date = DATE '2025-12-31'
GROUP BY n.scenario;

SELECT s.scenario,
       ROUND(s.nii, 0) AS nii_12m,
       ROUND(s.nii - b.nii, 0) AS delta_nii,
       ROUND(100 * (s.nii - b.nii) / c.tier1_capital, 2) AS delta_pct_tier1,
       CASE WHEN s.scenario IN ('parallel_+200', 'parallel_-200') AND b.nii - s.nii > 0.05 * c.tier1_capital
            THEN 'OUTLIER (loss >5% of Tier 1)' ELSE '' END AS outlier_test
FROM nii_by_scenario s
CROSS JOIN (SELECT nii FROM nii_by_scenario WHERE scenario = 'base') b
CROSS JOIN (SELECT tier1_capital FROM capital WHERE as_of_date = DATE '2025-12-31') c
ORDER BY CASE WHEN s.scenario = 'base' THEN 0 ELSE 1 END, s.scenario;
