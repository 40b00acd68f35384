from core.colors import contrast_ratio


def test_contrast_ratios_are_wcags():
    assert round(contrast_ratio("#000000", "#ffffff"), 1) == 21.0
    assert round(contrast_ratio("#ffffff", "#ffffff"), 1) == 1.0
    assert round(contrast_ratio("#767676", "#ffffff"), 2) == 4.54  # the lightest AA grey
