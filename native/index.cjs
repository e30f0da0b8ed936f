// Loads the compiled addon. KDQAT_NATIVE_ADDON points the loader at another file (tests use it to show the fallback).
'use strict';
const path = require('node:path');
const file = process.env.KDQAT_NATIVE_ADDON || path.join(__dirname, 'build', 'Release', 'kdqat_native.node');
module.exports = require(file);
