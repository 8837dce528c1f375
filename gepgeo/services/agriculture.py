"""Agricultural products (METHOD.md service 1): market value.

    V_agri = v_agri                 [yuan ha⁻¹ a⁻¹]  net output value per ha, or
    V_agri = yield · price          (yield kg ha⁻¹ a⁻¹, price yuan kg⁻¹)

Physical quantities: productive area (ha; 1 ha ha⁻¹ where the land type produces) and, when a
yield is given, product mass (kg ha⁻¹ a⁻¹).
"""
