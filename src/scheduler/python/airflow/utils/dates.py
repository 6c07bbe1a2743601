import datetime as _dt


def days_ago(n, hour=0, minute=0, second=0, microsecond=0):
    today = _dt.datetime.now(_dt.timezone.utc).replace(hour=hour, minute=minute, second=second, microsecond=microsecond)
    return today - _dt.timedelta(days=n)
