-- Creation from ranges, host memory and strings; properties; devices; copies.
local ffi = require("ffi")
local mg = require("moongrad")
local Tensor = mg.Tensor

return {
  ["arange is half-open; linspace and eye"] = function(t)
    t.eq(Tensor.arange(3):totable(), {0, 1, 2})
    t.eq(Tensor.arange(2, 8, 2):totable(), {2, 4, 6})
    t.eq(Tensor.arange(5, 2, -1):totable(), {5, 4, 3})
    t.eq(Tensor.arange(0, 1, 0.25):totable(), {0, 0.25, 0.5, 0.75})
    t.eq(Tensor.arange(0, 1, 0.25).dtype, mg.float32)
    t.eq(Tensor.arange(3).dtype, mg.int32)
    t.eq(Tensor.arange(0).shape, {0})
    t.eq(Tensor.arange(4, {dtype = mg.float64}).dtype, mg.float64)
    t.eq(Tensor.linspace(0, 1, 5):totable(), {0, 0.25, 0.5, 0.75, 1})
    t.eq(Tensor.linspace(2, 2, 1):totable(), {2})
    t.eq(Tensor.eye(2):totable(), {{1, 0}, {0, 1}})
    t.eq(Tensor.eye(2, 3):totable(), {{1, 0, 0}, {0, 1, 0}})
    t.raises(function() return Tensor.arange(0, 5, 0) end, "arange: step must not be 0")
    t.raises(function() return Tensor.linspace(0, 1, -1) end, "linspace: steps must be an integer >= 0")
    t.raises(function() return Tensor.arange(1e12) end, "arange: 1000000000000 elements is more than")
    t.raises(function() return Tensor.eye(-1) end, "eye: sizes must be integers >= 0")
  end,

  ["from_ptr copies host memory; from_string reads bytes"] = function(t)
    local buf = ffi.new("float[4]", {1.5, 2.5, 3.5, 4.5})
    local x = Tensor.from_ptr(buf, {2, 2}, mg.float32)
    buf[0] = 99  -- a copy: later writes do not show
    t.eq(x:totable(), {{1.5, 2.5}, {3.5, 4.5}})
    local ints = ffi.new("int16_t[3]", {-1, 2, 300})
    t.eq(Tensor.from_ptr(ints, {3}, mg.int16):totable(), {-1, 2, 300})
    t.eq(Tensor.from_string("\1\2\255"):totable(), {1, 2, 255})
    t.eq(Tensor.from_string("\1\0\2\0", mg.int16):totable(), {1, 2})
    t.raises(function() return Tensor.from_string("\1\2\3", mg.int16) end, "from_string: 3 bytes is not a whole number of int16 elements")
    t.raises(function() return Tensor.from_ptr(nil, {2}, mg.float32) end, "from_ptr: pointer is NULL")
  end,

  ["default_float can be set per program"] = function(t)
    local old = mg.default_float
    mg.default_float = mg.float64
    local ok, err = pcall(function()
      t.eq(Tensor{1.5}.dtype, mg.float64)
      t.eq(Tensor.zeros(2).dtype, mg.float64)
      t.eq((Tensor{1} / 2).dtype, mg.float64)
    end)
    mg.default_float = old
    assert(ok, err)
    t.eq(Tensor{1.5}.dtype, mg.float32)
    t.raises(function() mg.default_float = mg.int32 end, "default_float must be a float dtype, got int32")
  end,

  ["properties: shape, dtype, device, ndim, numel, requires_grad, grad"] = function(t)
    local x = Tensor.zeros(2, 3, 4)
    t.eq(x.shape, {2, 3, 4})
    t.eq(x.ndim, 3)
    t.eq(x:numel(), 24)
    t.eq(x:size(2), 3)
    t.eq(x:size(-1), 4)
    t.eq(x:element_size(), 4)
    t.eq(x.device, os.getenv("DEV") or mg.devices()[1], "the default device (DEV, else the first)")
    t.eq(x.requires_grad, false)
    x.requires_grad = true
    t.eq(x.requires_grad, true)
    t.eq(x.grad, nil)
    local g = Tensor.ones(2, 3, 4)
    x.grad = g
    t.truthy(x.grad == g)
    t.raises(function() x.grad = 5 end, "grad must be a tensor or nil")
  end,

  ["devices, to, clone, contiguous and detach"] = function(t)
    local devs = mg.devices()
    t.truthy(#devs >= 1)
    local seen = false
    for _, d in ipairs(devs) do seen = seen or d == "REF" end
    t.truthy(seen, "REF is always there")
    local x = Tensor{1, 2, 3}
    t.eq(x:to("REF"):totable(), {1, 2, 3})
    t.eq(x:to("ref").device, "REF")
    t.eq(x:clone():totable(), {1, 2, 3})
    t.eq(x:contiguous():totable(), {1, 2, 3})
    t.eq(x:detach():totable(), {1, 2, 3})
    t.raises(function() return x:to(5) end, "to: device must be a string")
    t.raises(function() return x:to("NOPE") end, "device 'NOPE' is not available here")
  end,
}
