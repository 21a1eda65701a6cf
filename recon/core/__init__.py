"""The pure core: no files, no network, no workbooks. Config, SCIM paths and constants, value
normalization, expressions, quality rules, mapping, match, classify, groups, plan, approve."""
