"""A minimal `pendulum` for DAG files when the real one is not installed:
the calls DAG files make for dates (pendulum.datetime(..., tz=...),
pendulum.timezone, pendulum.duration, now, today), on the standard library."""
import datetime as _dt
from zoneinfo import ZoneInfo

DateTime = _dt.datetime
Duration = _dt.timedelta
UTC = _dt.timezone.utc


def timezone(name):
    return UTC if name in ("UTC", "utc", "Z") else ZoneInfo(name)


def _tz(tz):
    if tz is None:
        return UTC
    return timezone(tz) if isinstance(tz, str) else tz


def datetime(year, month, day, hour=0, minute=0, second=0, microsecond=0, tz="UTC"):
    return _dt.datetime(year, month, day, hour, minute, second, microsecond, tzinfo=_tz(tz))


def duration(days=0, seconds=0, microseconds=0, milliseconds=0, minutes=0, hours=0, weeks=0):
    return _dt.timedelta(days=days, seconds=seconds, microseconds=microseconds, milliseconds=milliseconds,
                         minutes=minutes, hours=hours, weeks=weeks)


def now(tz="UTC"):
    return _dt.datetime.now(_tz(tz))


def today(tz="UTC"):
    return now(tz).replace(hour=0, minute=0, second=0, microsecond=0)


def yesterday(tz="UTC"):
    return today(tz) - _dt.timedelta(days=1)
