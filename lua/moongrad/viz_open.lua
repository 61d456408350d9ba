-- `moongrad --viz TRACE-FILE` (the launcher runs this): opens a trace saved by VIZ=1.
local viz = require("moongrad.viz")
local ok, err = viz.open_file(arg and arg[1])
if not ok then
  io.stderr:write("moongrad --viz: ", err, "\n")
  os.exit(1)
end
