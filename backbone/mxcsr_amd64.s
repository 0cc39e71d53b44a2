#include "textflag.h"

// func flushDenormals()
TEXT ·flushDenormals(SB), NOSPLIT, $8-0
	STMXCSR tmp-4(SP)
	ORL $0x8040, tmp-4(SP) // FTZ (bit 15) and DAZ (bit 6)
	LDMXCSR tmp-4(SP)
	RET

// func mxcsr() uint32
TEXT ·mxcsr(SB), NOSPLIT, $8-4
	STMXCSR tmp-4(SP)
	MOVL tmp-4(SP), AX
	MOVL AX, ret+0(FP)
	RET
