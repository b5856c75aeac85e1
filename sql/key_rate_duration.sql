-- Key-rate DV01s per currency: the value change of the book when one key
-- tenor's zero rate rises by 1 bp (a triangle falling to 0 at the neighbouring
-- key tenors; flat beyond 3M and 30Y), in the reporting currency (fx_rates).
-- KR DV01 = PV(base) - PV(bumped): positive when the book loses value as rates
-- rise. The triangles add up to a parallel shift, so the key-rate DV01s add
-- up to the parallel +1 bp DV01 of the book.
-- Run: almanac sql -f sql/key_rate_duration.sql
--
-- Parameters: the analysis date (in these views).
CREATE OR REPLACE VIEW key_rate_flows AS
  SELECT scenario, UPPER(currency) AS currency, pay_date, SUM(total) AS total
  FROM cashflows('instruments', DATE '2025-12-31', 'keyrate:1')
  GROUP BY scenario, UPPER(currency), pay_date;
CREATE OR REPLACE VIEW key_rate_discount AS
  SELECT * FROM discount_factors('curves', DATE '2025-12-31', 'keyrate:1', 200);

WITH pv AS (
  SELECT f.currency, f.scenario, SUM(f.total * d.discount_factor * x.rate_to_reporting) AS pv
  FROM key_rate_flows f
  JOIN key_rate_discount d ON f.scenario = d.scenario AND f.currency = d.currency AND f.pay_date = d.date
  JOIN fx_rates x ON x.currency = f.currency AND x.as_of_date = DATE '2025-12-31'
  GROUP BY f.currency, f.scenario
),
bumped AS (
  SELECT p.currency, SUBSTR(p.scenario, 9) AS key_tenor, b.pv - p.pv AS kr_dv01
  FROM pv p JOIN pv b ON b.currency = p.currency AND b.scenario = 'base'
  WHERE p.scenario <> 'base'
)
SELECT currency, key_tenor, ROUND(kr_dv01, 2) AS kr_dv01,
       ROUND(SUM(kr_dv01) OVER (PARTITION BY currency), 2) AS total_dv01
FROM bumped
ORDER BY currency,
         CASE WHEN key_tenor LIKE '%M' THEN CAST(REPLACE(key_tenor, 'M', '') AS DOUBLE) / 12
              ELSE CAST(REPLACE(key_tenor, 'Y', '') AS DOUBLE) END;
