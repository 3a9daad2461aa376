//! The device interrupt vectors of the MPS2 AN385/AN386 images (cortex-m-rt leaves them to a
//! device crate; this board has none). Unused lines go to cortex-m-rt's `DefaultHandler`.

/// An entry of the vector table: a handler or a reserved word.
#[repr(C)]
pub union Vector {
    handler: unsafe extern "C" fn(),
    reserved: usize,
}

extern "C" {
    fn DefaultHandler();
}

/// IRQ 0-31 (UARTs 0-2 at 0-5, timers at 8-10, ...).
#[link_section = ".vector_table.interrupts"]
#[no_mangle]
#[used]
pub static __INTERRUPTS: [Vector; 32] = {
    let mut v = [const {
        Vector {
            handler: DefaultHandler,
        }
    }; 32];
    v[0] = Vector {
        handler: crate::line::uart0_rx,
    };
    v[2] = Vector {
        handler: crate::line::uart1_rx,
    };
    v[8] = Vector {
        handler: crate::line::timer0,
    };
    v
};
