-- require("time"): Wippy's (Go's) time API. Numbers given as durations are nanoseconds.
-- Times are {ns since the epoch, location}; locations are {name, fixed offset or nil}.
local L = ...
local py, ret, raise, chan, yield, mkerr = L.py, L.ret, L.raise, L.chan, L.yield, L.mkerr
local setmetatable_, getmetatable_, type_, floor = setmetatable, getmetatable, type, math.floor

local time = {
  NANOSECOND = 1, MICROSECOND = 1000, MILLISECOND = 1000000, SECOND = 1000000000,
  MINUTE = 60000000000, HOUR = 3600000000000,
  JANUARY = 1, FEBRUARY = 2, MARCH = 3, APRIL = 4, MAY = 5, JUNE = 6, JULY = 7, AUGUST = 8,
  SEPTEMBER = 9, OCTOBER = 10, NOVEMBER = 11, DECEMBER = 12,
  SUNDAY = 0, MONDAY = 1, TUESDAY = 2, WEDNESDAY = 3, THURSDAY = 4, FRIDAY = 5, SATURDAY = 6,
  RFC3339 = "2006-01-02T15:04:05Z07:00", RFC3339NANO = "2006-01-02T15:04:05.999999999Z07:00",
  RFC822 = "02 Jan 06 15:04 MST", RFC822Z = "02 Jan 06 15:04 -0700",
  RFC850 = "Monday, 02-Jan-06 15:04:05 MST", RFC1123 = "Mon, 02 Jan 2006 15:04:05 MST",
  RFC1123Z = "Mon, 02 Jan 2006 15:04:05 -0700", DATE_TIME = "2006-01-02 15:04:05",
  DATE_ONLY = "2006-01-02", TIME_ONLY = "15:04:05", KITCHEN = "3:04PM",
  STAMP = "Jan _2 15:04:05", STAMP_MILLI = "Jan _2 15:04:05.000",
  STAMP_MICRO = "Jan _2 15:04:05.000000", STAMP_NANO = "Jan _2 15:04:05.000000000",
}

-- Durations ----------------------------------------------------------------------------------
local D = {}
local DurMT = {__index = D, __metatable = false}
local function duration(ns) return setmetatable_({ns}, DurMT) end
local function is_dur(d) return type_(d) == "table" and rawget(d, 1) ~= nil and getmetatable_(d) == false and d.nanoseconds == D.nanoseconds end
function D.nanoseconds(d) return d[1] end
function D.microseconds(d) return d[1] // 1000 end
function D.milliseconds(d) return d[1] // 1000000 end
function D.seconds(d) return d[1] / 1e9 end
function D.minutes(d) return d[1] / 6e10 end
function D.hours(d) return d[1] / 3.6e12 end
DurMT.__tostring = function(d) return tostring(d[1] / 1e9) .. "s" end

-- a duration argument -> seconds (number) or a duration string for Python to parse
local function secs(d)
  local t = type_(d)
  if t == "number" then return d / 1e9 end
  if t == "table" and is_dur(d) then return d[1] / 1e9 end
  return d
end
local function ns_of(d)
  if type_(d) == "number" then return floor(d) end
  if is_dur(d) then return d[1] end
  return raise(py(OP.time_duration, d))
end

function time.parse_duration(v)
  if type_(v) == "number" then return duration(floor(v)) end
  if is_dur(v) then return v end
  local n, err = ret(py(OP.time_duration, v))
  if n == nil then return nil, err end
  return duration(n)
end

-- Locations and times ----------------------------------------------------------------------
local Loc = {}
local LocMT = {__index = Loc, __metatable = false}
local function location(name, offset) return setmetatable_({name, offset}, LocMT) end
function Loc.string(l) return l[1] end
LocMT.__tostring = Loc.string
time.utc = location("UTC", 0)
time.localtz = location("Local", nil)
time.UTC, time.Local = time.utc, time.localtz
function time.fixed_zone(name, offset) return location(name, floor(offset)) end
function time.load_location(name)
  if name == nil or name == "" then return nil, mkerr("INVALID", "empty location name") end
  if name == "UTC" then return time.utc end
  if name == "Local" then return time.localtz end
  return nil, mkerr("NOT_FOUND", "unknown time zone " .. tostring(name) ..
                    " (wippy knows UTC, Local and time.fixed_zone)")
end

local T = {}
local TimeMT = {__index = T, __metatable = false}
local function new_time(ns, loc) return setmetatable_({ns, loc or time.localtz}, TimeMT) end
local function is_time(t) return type_(t) == "table" and t.unix_nano == T.unix_nano end
local function offset(t)
  local off = t[2][2]
  if off == nil then off = raise(py(OP.time_local_offset, t[1])) end
  return off
end
local function zone(t)
  if t[2][2] == nil then return nil end
  return t[2][1]
end

function time.now() return new_time(raise(py(OP.time_now))) end
function time.unix(sec, nsec) return new_time(floor(sec) * 1000000000 + floor(nsec or 0)) end
function time.date(y, mo, d, h, mi, s, ns, loc)
  loc = loc or time.localtz
  return new_time(raise(py(OP.time_date, y, mo, d, h or 0, mi or 0, s or 0, ns or 0, loc[2])), loc)
end
function time.parse(layout, value, loc)
  loc = loc or time.utc
  local ns, err = ret(py(OP.time_parse, layout, value, loc[2] or 0))
  if ns == nil then return nil, err end
  return new_time(ns, loc)
end
function time.from_unix(seconds) return new_time(floor(seconds * 1e9)) end

function T.unix(t) return t[1] // 1000000000 end
function T.unix_nano(t) return t[1] end
function T.add(t, d) return new_time(t[1] + ns_of(d), t[2]) end
function T.sub(t, u) return duration(t[1] - u[1]) end
function T.before(t, u) return t[1] < u[1] end
function T.after(t, u) return t[1] > u[1] end
function T.equal(t, u) return t[1] == u[1] end
function T.is_zero(t) return t[1] == 0 end
function T.utc(t) return new_time(t[1], time.utc) end
function T.in_local(t) return new_time(t[1], time.localtz) end
function T.in_location(t, loc) return new_time(t[1], loc) end
function T.location(t) return t[2] end
function T.format(t, layout) return raise(py(OP.time_format, t[1], layout, offset(t), zone(t))) end
function T.format_rfc3339(t) return T.format(t, time.RFC3339) end
function T.round(t, d) local n = ns_of(d); return new_time((t[1] + n // 2) // n * n, t[2]) end
function T.truncate(t, d) local n = ns_of(d); return new_time(t[1] // n * n, t[2]) end
local function part(i) return function(t) return (select(i, raise(py(OP.time_parts, t[1], offset(t))))) end end
T.year, T.month, T.day, T.hour, T.minute, T.second, T.nanosecond, T.weekday, T.year_day =
  part(1), part(2), part(3), part(4), part(5), part(6), part(7), part(8), part(9)
function T.date(t) local y, m, d = raise(py(OP.time_parts, t[1], offset(t))); return y, m, d end
function T.clock(t)
  local _, _, _, h, mi, s = raise(py(OP.time_parts, t[1], offset(t)))
  return h, mi, s
end
function T.add_date(t, years, months, days)
  local y, m, d, h, mi, s, ns = raise(py(OP.time_parts, t[1], offset(t)))
  return time.date(y + (years or 0), m + (months or 0), d + (days or 0), h, mi, s, ns, t[2])
end
TimeMT.__tostring = function(t) return T.format(t, "2006-01-02 15:04:05.999999999 -0700 MST") end
TimeMT.__eq = function(a, b) return a[1] == b[1] end
TimeMT.__lt = function(a, b) return a[1] < b[1] end
TimeMT.__le = function(a, b) return a[1] <= b[1] end

-- Scheduling -------------------------------------------------------------------------------
function time.sleep(d) return ret(yield(REQ.sleep, secs(d))) end

function time.after(d)
  local h, err = ret(py(OP.time_after, secs(d)))
  if h == nil then return nil, err end
  return chan(h)
end

local Timer = {}
local TimerMT = {__index = Timer, __metatable = false}
function Timer.response(t) return t[2] end
Timer.channel = Timer.response
function Timer.stop(t) return raise(py(OP.timer_stop, t[1])) end
function Timer.reset(t, d) return ret(py(OP.timer_reset, t[1], secs(d))) end
function time.timer(d)
  local h, ch = ret(py(OP.time_timer, secs(d)))
  if h == nil then return nil, ch end
  return setmetatable_({h, chan(ch)}, TimerMT)
end

local Ticker = {}
local TickerMT = {__index = Ticker, __metatable = false}
Ticker.response, Ticker.channel = Timer.response, Timer.response
function Ticker.stop(t) return raise(py(OP.ticker_stop, t[1])) end
function time.ticker(d)
  local h, ch = ret(py(OP.time_ticker, secs(d)))
  if h == nil then return nil, ch end
  return setmetatable_({h, chan(ch)}, TickerMT)
end

return time
