-- mg.marker and mg.viz from Lua: argument checks (the programs that open the window, save
-- traces and write PROFILE JSON are tested by tests/viz/run.lua).
local mg = require("moongrad")

return {
  ["mg.marker takes a non-empty string name and says so otherwise"] = function(t)
    mg.marker("a marker")  -- the profile is off here: recorded nowhere, still checked
    t.raises(function() mg.marker() end, "mg.marker: expected a non%-empty string name, got nil")
    t.raises(function() mg.marker(3) end, "got number")
    t.raises(function() mg.marker("") end, "got \"\"")
    t.raises(function() mg.marker(string.rep("x", 2000)) end, "2000 bytes long, at most 1024")
  end,
  ["mg.viz is callable and its helpers check their arguments"] = function(t)
    t.eq(type(getmetatable(mg.viz).__call), "function")
    t.raises(function() mg.viz.save(nil) end, "expected a file path")
    t.raises(function() mg.viz.save_profile(42) end, "expected a file path")
    t.raises(function() mg.viz.check_file("") end, "expected a file path")
    local info, err = mg.viz.check_file("/nonexistent/trace.mgviz")
    t.eq(info, nil)
    t.truthy(err:find("cannot open /nonexistent/trace.mgviz", 1, true), err)
  end,
}
