"""Air purification (METHOD.md service 4): treatment cost.

    Q_j   = q_j · m_air             [t ha⁻¹ a⁻¹], j ∈ {SO2, NOx, dust}
    V_air = Σ_j Q_j · c_j           [yuan ha⁻¹ a⁻¹]

m_air (``air_rate_multiplier``, 1 unless a profile sets it) scales the stated uptake rates.
"""
