# Staff read dates as the ISPs write them, dd/mm/yyyy, and narrow enough for the admin's
# lists to fit a 1280 px screen (Django's es formats spell the month out). Subscriber pages
# format their dates with Babel in the ISP's locale (accounts.templatetags.antena).
DATE_FORMAT = "d/m/Y"
DATETIME_FORMAT = "d/m/Y H:i"
SHORT_DATE_FORMAT = "d/m/Y"
SHORT_DATETIME_FORMAT = "d/m/Y H:i"
