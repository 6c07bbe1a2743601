import datetime as _dt

utc = _dt.timezone.utc


def datetime(*args, **kwargs):
    if "tzinfo" not in kwargs:
        kwargs["tzinfo"] = utc
    return _dt.datetime(*args, **kwargs)


def utcnow():
    return _dt.datetime.now(utc)
