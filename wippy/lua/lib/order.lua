-- Time and Duration objects compare by their nanoseconds (field 1): __eq, __lt, __le.
return function()
  return function(a, b) return a[1] == b[1] end,
         function(a, b) return a[1] < b[1] end,
         function(a, b) return a[1] <= b[1] end
end
