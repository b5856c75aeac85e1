-- Bench workload: EVE under base and the six Basel shocks, per currency
-- (the core of sql/eve_sensitivity.sql, without fx and capital).
SELECT f.scenario, f.currency, SUM(f.total * d.discount_factor) AS eve
FROM (SELECT scenario, UPPER(currency) AS currency, pay_date, SUM(total) AS total
      FROM cashflows('instruments', DATE '2025-12-31', 'bcbs')
      GROUP BY 1, 2, 3) f
JOIN discount_factors('curves', DATE '2025-12-31', 'bcbs', 200) d
  ON f.scenario = d.scenario AND f.currency = d.currency AND f.pay_date = d.date
GROUP BY 1, 2
ORDER BY 1, 2;
