-- Bench workload: 12-month NII under the base curves and parallel +-200 bp.
SELECT scenario, SUM(interest) AS nii
FROM nii_projection('instruments', DATE '2025-12-31', 12, 'parallel:+200,-200')
GROUP BY 1
ORDER BY 1;
